#include "receiver/relp_frame.h"

#include <algorithm>
#include <charconv>

namespace konseki::receiver {
namespace {

constexpr uint32_t kMaxDigits = 9;
constexpr uint8_t kMaxCommandLen = 32;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Appends digit c to the number *value of *digits digits; false if c is no
// digit or the number already has kMaxDigits (TXNR and DATALEN have at most 9).
bool AddDigit(char c, uint32_t* value, uint32_t* digits) {
  if (!IsDigit(c) || *digits == kMaxDigits) return false;
  *value = *value * 10 + static_cast<uint32_t>(c - '0');
  ++*digits;
  return true;
}

RelpCommand Classify(std::string_view name) {
  if (name == "syslog") return RelpCommand::kSyslog;
  if (name == "open") return RelpCommand::kOpen;
  if (name == "close") return RelpCommand::kClose;
  if (name == "rsp") return RelpCommand::kRsp;
  if (name == "serverclose") return RelpCommand::kServerClose;
  return RelpCommand::kOther;
}

}  // namespace

std::string_view RelpFrameErrorName(RelpFrameError error) {
  switch (error) {
    case RelpFrameError::kNone:
      return "none";
    case RelpFrameError::kBadTxnr:
      return "bad_txnr";
    case RelpFrameError::kBadCommand:
      return "bad_command";
    case RelpFrameError::kBadDatalen:
      return "bad_datalen";
    case RelpFrameError::kBadTrailer:
      return "bad_trailer";
    case RelpFrameError::kDataTooLong:
      return "data_too_long";
  }
  return "unknown";
}

RelpFrameDecoder::RelpFrameDecoder(const RelpFrameDecoderOptions& options) : options_(options) {}

RelpFrameDecoder::Result RelpFrameDecoder::Fail(RelpFrameError error) {
  state_ = State::kError;
  error_ = error;
  return Result::kError;
}

void RelpFrameDecoder::Reset() {
  state_ = State::kTxnr;
  digits_ = 0;
  txnr_ = 0;
  datalen_ = 0;
  data_seen_ = 0;
  command_len_ = 0;
}

inline RelpFrameError RelpFrameDecoder::TakeTxnr(std::string_view* in) {
  const char c = in->front();
  if (c == ' ' && digits_ > 0) {
    state_ = State::kCommand;
    command_len_ = 0;
  } else if (!AddDigit(c, &txnr_, &digits_)) {
    return RelpFrameError::kBadTxnr;
  }
  in->remove_prefix(1);
  return RelpFrameError::kNone;
}

inline RelpFrameError RelpFrameDecoder::TakeCommand(std::string_view* in) {
  const char c = in->front();
  if (c == ' ' && command_len_ > 0) {
    state_ = State::kDatalen;
    digits_ = 0;
  } else if (!IsAlpha(c) || command_len_ == kMaxCommandLen) {
    return RelpFrameError::kBadCommand;
  } else {
    command_[command_len_++] = c;
  }
  in->remove_prefix(1);
  return RelpFrameError::kNone;
}

inline RelpFrameError RelpFrameDecoder::TakeDatalen(std::string_view* in) {
  const char c = in->front();
  if (IsDigit(c)) {
    if (!AddDigit(c, &datalen_, &digits_)) return RelpFrameError::kBadDatalen;
    in->remove_prefix(1);
    return RelpFrameError::kNone;
  }
  if (digits_ == 0) return RelpFrameError::kBadDatalen;
  data_view_ = {};
  data_in_buffer_ = false;
  if (datalen_ == 0) {
    // No SP DATA part: the trailer follows the length directly, and the
    // trailer state examines this same byte.
    state_ = State::kTrailer;
    return RelpFrameError::kNone;
  }
  if (c != ' ') return RelpFrameError::kBadDatalen;
  if (datalen_ > options_.max_data_bytes && !options_.truncate_oversize) {
    return RelpFrameError::kDataTooLong;
  }
  in->remove_prefix(1);
  state_ = State::kData;
  data_seen_ = 0;
  return RelpFrameError::kNone;
}

inline void RelpFrameDecoder::TakeData(std::string_view* input) {
  std::string_view& in = *input;
  const size_t keep = std::min<size_t>(datalen_, options_.max_data_bytes);
  if (data_seen_ == 0 && in.size() > datalen_) {
    // Whole DATA and the trailer byte present: the frame completes in
    // this call, so a view of the caller's bytes is safe to hand out.
    // (DATA ending exactly at the end of the input is copied: the view
    // would outlive the caller's buffer until the trailer arrives.)
    data_view_ = in.substr(0, keep);
    in.remove_prefix(datalen_);
    data_seen_ = datalen_;
    state_ = State::kTrailer;
    return;
  }
  if (!data_in_buffer_) {
    buffer_.clear();
    data_in_buffer_ = true;
  }
  const size_t n = std::min<size_t>(datalen_ - data_seen_, in.size());
  if (data_seen_ < keep) buffer_.append(in.data(), std::min(n, keep - data_seen_));
  in.remove_prefix(n);
  data_seen_ += static_cast<uint32_t>(n);
  if (data_seen_ == datalen_) state_ = State::kTrailer;
}

inline void RelpFrameDecoder::CompleteFrame(RelpFrame* frame) {
  frame->txnr = txnr_;
  frame->command_name = std::string_view(command_, command_len_);
  frame->command = Classify(frame->command_name);
  frame->data = data_in_buffer_ ? std::string_view(buffer_) : data_view_;
  frame->datalen = datalen_;
  frame->truncated = datalen_ > frame->data.size();
  Reset();
}

// One step per state of the grammar (TXNR SP COMMAND SP DATALEN [SP DATA]
// LF); each consumes bytes from the front of *in and says what was wrong,
// kNone if nothing.
RelpFrameDecoder::Result RelpFrameDecoder::Next(std::string_view* input, RelpFrame* frame) {
  std::string_view& in = *input;
  while (!in.empty()) {
    RelpFrameError error = RelpFrameError::kNone;
    switch (state_) {
      case State::kError:
        return Result::kError;
      case State::kTxnr:
        error = TakeTxnr(&in);
        break;
      case State::kCommand:
        error = TakeCommand(&in);
        break;
      case State::kDatalen:
        error = TakeDatalen(&in);
        break;
      case State::kData:
        TakeData(&in);
        break;
      case State::kTrailer:
        if (in.front() != '\n') return Fail(RelpFrameError::kBadTrailer);
        in.remove_prefix(1);
        CompleteFrame(frame);
        return Result::kFrame;
    }
    if (error != RelpFrameError::kNone) return Fail(error);
  }
  return state_ == State::kError ? Result::kError : Result::kNeedMore;
}

void AppendRelpFrame(uint32_t txnr, std::string_view command, std::string_view data,
                     std::string* out) {
  char num[16];
  auto r = std::to_chars(num, num + sizeof(num), txnr);
  out->append(num, r.ptr);
  out->push_back(' ');
  out->append(command);
  out->push_back(' ');
  r = std::to_chars(num, num + sizeof(num), data.size());
  out->append(num, r.ptr);
  if (!data.empty()) {
    out->push_back(' ');
    out->append(data);
  }
  out->push_back('\n');
}

}  // namespace konseki::receiver
