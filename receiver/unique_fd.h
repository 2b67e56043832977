// RAII owner of a file descriptor.
#ifndef KONSEKI_RECEIVER_UNIQUE_FD_H_
#define KONSEKI_RECEIVER_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace konseki::receiver {

// Owns one fd and closes it on destruction. Movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_UNIQUE_FD_H_
