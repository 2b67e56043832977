// Status and StatusOr: how every control-plane operation (bind, config, rule
// compile, file open) reports failure. The data path never throws; it counts.
#ifndef KONSEKI_COMMON_STATUS_H_
#define KONSEKI_COMMON_STATUS_H_

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace konseki {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad config, bad rule, bad command line
  kNotFound,         // file or key missing
  kIoError,          // open/write/bind/fsync failed; message carries strerror
  kUnavailable,      // resource temporarily exhausted (disk full, queue full)
  kInternal,         // a bug or a library failure we cannot classify
};

// A cheap value: OK carries no allocation. Messages are for humans and must
// say what failed, where (file:line, rule id, address) and what to do.
class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  // IoError whose message ends with ": " + strerror(err).
  static Status FromErrno(std::string_view what, int err);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "OK" or "<code name>: <message>".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a T or a non-OK Status. Accessing value() of an error is a bug.
template <typename T>
class StatusOr {
 public:
  StatusOr(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }
  StatusOr(T value) : v_(std::move(value)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace konseki

// Returns the Status of `expr` from the enclosing function when it is not OK.
//   RETURN_IF_ERROR(reader.GetString(node, "dir", &dir));
#define RETURN_IF_ERROR(expr)                                                \
  do {                                                                       \
    if (::konseki::Status konseki_status_ = (expr); !konseki_status_.ok()) { \
      return konseki_status_;                                                \
    }                                                                        \
  } while (0)

#endif  // KONSEKI_COMMON_STATUS_H_
