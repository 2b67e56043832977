#include "receiver/relp_session.h"

#include <algorithm>

namespace konseki::receiver {
namespace {

// DATA kept by the decoder at least, whatever max_data_bytes says.
constexpr size_t kMinFrameBytes = 4096;

void Inc(Counter* c) {
  if (c != nullptr) c->Inc();
}

RelpError FromFrameError(RelpFrameError e) {
  switch (e) {
    case RelpFrameError::kBadTxnr:
      return RelpError::kBadTxnr;
    case RelpFrameError::kBadCommand:
      return RelpError::kBadCommand;
    case RelpFrameError::kBadDatalen:
      return RelpError::kBadDatalen;
    case RelpFrameError::kBadTrailer:
      return RelpError::kBadTrailer;
    case RelpFrameError::kDataTooLong:
      return RelpError::kDataTooLong;
    case RelpFrameError::kNone:
      break;
  }
  return RelpError::kBadTxnr;
}

// Offers in an open frame, as librelp writes and reads them (offers.c):
// lines "name=value,value,..." separated by LF. We only need two facts.
struct ClientOffers {
  bool version_ok = true;  // relp_version absent or a number
  bool has_syslog = false;
};

ClientOffers ParseOffers(std::string_view data) {
  ClientOffers offers;
  while (!data.empty()) {
    size_t eol = data.find('\n');
    std::string_view line = data.substr(0, eol);
    data = eol == std::string_view::npos ? std::string_view() : data.substr(eol + 1);
    size_t eq = line.find('=');
    std::string_view name = line.substr(0, eq);
    std::string_view values =
        eq == std::string_view::npos ? std::string_view() : line.substr(eq + 1);
    if (name == "relp_version") {
      bool digits = !values.empty() && values.find_first_not_of("0123456789") == values.npos;
      offers.version_ok = digits;
    } else if (name == "commands") {
      while (!values.empty()) {
        size_t comma = values.find(',');
        if (values.substr(0, comma) == "syslog") offers.has_syslog = true;
        values = comma == std::string_view::npos ? std::string_view() : values.substr(comma + 1);
      }
    }
  }
  return offers;
}

}  // namespace

std::string_view RelpErrorName(RelpError error) {
  switch (error) {
    case RelpError::kNone:
      return "none";
    case RelpError::kBadTxnr:
      return "bad_txnr";
    case RelpError::kBadCommand:
      return "bad_command";
    case RelpError::kBadDatalen:
      return "bad_datalen";
    case RelpError::kBadTrailer:
      return "bad_trailer";
    case RelpError::kDataTooLong:
      return "data_too_long";
    case RelpError::kTxnrOutOfSequence:
      return "txnr_out_of_sequence";
    case RelpError::kNotOpen:
      return "not_open";
    case RelpError::kUnexpectedCommand:
      return "unexpected_command";
    case RelpError::kOpenRefused:
      return "open_refused";
  }
  return "unknown";
}

RelpCounters RelpCounters::Register(MetricsRegistry* registry) {
  RelpCounters c;
  c.frames = registry->GetCounter("konseki_relp_frames_total", "RELP frames received");
  c.messages = registry->GetCounter("konseki_relp_messages_total", "RELP syslog messages received");
  c.truncated = registry->GetCounter("konseki_relp_truncated_messages_total",
                                     "RELP syslog messages longer than max_data_bytes");
  c.acks = registry->GetCounter("konseki_relp_acks_total",
                                "RELP syslog messages acknowledged to the sender");
  c.unknown_commands = registry->GetCounter("konseki_relp_unknown_commands_total",
                                            "RELP frames with a command we do not support");
  c.client_closes = registry->GetCounter("konseki_relp_client_closes_total",
                                         "RELP sessions closed by the client");
  for (size_t i = 1; i < kRelpErrorCount; ++i) {
    c.errors[i] =
        registry->GetCounter("konseki_relp_errors_total", "RELP sessions ended by a protocol error",
                             {{"reason", std::string(RelpErrorName(static_cast<RelpError>(i)))}});
  }
  return c;
}

RelpSession::RelpSession(const RelpSessionOptions& options, RelpHandler* handler,
                         const RelpCounters* counters)
    : options_(options),
      handler_(handler),
      counters_(counters),
      // Open offers must survive even a tiny max_data_bytes; syslog DATA is
      // cut to max_data_bytes in ProcessFrame.
      decoder_(RelpFrameDecoderOptions{std::max<size_t>(options.max_data_bytes, kMinFrameBytes),
                                       options.truncate_oversize}),
      slots_(std::max<size_t>(options.max_unacked, 1)) {
  open_response_ = "200 OK\nrelp_version=0\nrelp_software=";
  open_response_ += options_.software;
  open_response_ += "\ncommands=syslog";
}

bool RelpSession::WantsInput() const {
  return (state_ == State::kAwaitingOpen || state_ == State::kOpen) && count_ < slots_.size() &&
         output_.size() - output_pos_ <= options_.max_output_bytes;
}

size_t RelpSession::Feed(std::string_view input) {
  std::string_view rest = input;
  while (!rest.empty() && WantsInput()) {
    RelpFrame frame;
    RelpFrameDecoder::Result r = decoder_.Next(&rest, &frame);
    if (r == RelpFrameDecoder::Result::kNeedMore) break;
    if (r == RelpFrameDecoder::Result::kError) {
      SetError(FromFrameError(decoder_.error()));
      break;
    }
    ProcessFrame(frame);
  }
  return input.size() - rest.size();
}

void RelpSession::ProcessFrame(const RelpFrame& frame) {
  if (counters_ != nullptr) Inc(counters_->frames);
  if (frame.txnr != expected_txnr_) {
    SetError(RelpError::kTxnrOutOfSequence);
    return;
  }
  expected_txnr_ = RelpNextTxnr(expected_txnr_);

  if (frame.command == RelpCommand::kRsp || frame.command == RelpCommand::kServerClose) {
    SetError(RelpError::kUnexpectedCommand);
    return;
  }
  if (state_ == State::kAwaitingOpen) {
    if (frame.command != RelpCommand::kOpen) {
      SetError(RelpError::kNotOpen);
      return;
    }
    HandleOpen(frame);
    return;
  }

  switch (frame.command) {
    case RelpCommand::kSyslog: {
      std::string_view data = frame.data;
      bool truncated = frame.truncated;
      if (data.size() > options_.max_data_bytes) {
        if (!options_.truncate_oversize) {
          SetError(RelpError::kDataTooLong);
          return;
        }
        data = data.substr(0, options_.max_data_bytes);
        truncated = true;
      }
      Push(Slot::kSyslogPending);
      ++unacked_;
      if (counters_ != nullptr) {
        Inc(counters_->messages);
        if (truncated) Inc(counters_->truncated);
      }
      // Last: the handler may Ack (and so Drain) from inside the call.
      handler_->OnSyslog(frame.txnr, data, truncated);
      return;
    }
    case RelpCommand::kOpen:
      Push(Slot::kAlreadyOpen);
      break;
    case RelpCommand::kClose:
      if (counters_ != nullptr) Inc(counters_->client_closes);
      state_ = State::kClosing;
      Push(Slot::kClose);
      break;
    default:
      if (counters_ != nullptr) Inc(counters_->unknown_commands);
      Push(Slot::kUnknown);
      break;
  }
  Drain();
}

void RelpSession::HandleOpen(const RelpFrame& frame) {
  ClientOffers offers = ParseOffers(frame.data);
  // The ring is empty: open is the first frame, so it is answered at once.
  if (!offers.version_ok) {
    AppendRsp(frame.txnr, "500 invalid relp_version offer");
    SetError(RelpError::kOpenRefused);
    return;
  }
  if (!offers.has_syslog) {
    AppendRsp(frame.txnr, "500 required command not supported by client");
    SetError(RelpError::kOpenRefused);
    return;
  }
  state_ = State::kOpen;
  Push(Slot::kOpenOk);
  Drain();
}

void RelpSession::Push(Slot slot) {
  // Callers check WantsInput (count_ < size) before decoding a frame.
  slots_[(head_ + count_) % slots_.size()] = slot;
  ++count_;
}

long RelpSession::IndexOf(uint32_t txnr) const {
  if (count_ == 0 || txnr == 0 || txnr > kRelpMaxTxnr) return -1;
  uint32_t distance = txnr >= head_txnr_ ? txnr - head_txnr_ : txnr + kRelpMaxTxnr - head_txnr_;
  if (distance >= count_) return -1;
  return static_cast<long>((head_ + distance) % slots_.size());
}

bool RelpSession::Ack(uint32_t txnr) {
  long i = IndexOf(txnr);
  if (i < 0 || slots_[i] != Slot::kSyslogPending) return false;
  slots_[i] = Slot::kSyslogAcked;
  --unacked_;
  Drain();
  return true;
}

size_t RelpSession::AckUpTo(uint32_t txnr) {
  long last = IndexOf(txnr);
  if (last < 0) return 0;
  size_t acked = 0;
  for (size_t k = 0;; ++k) {
    size_t i = (head_ + k) % slots_.size();
    if (slots_[i] == Slot::kSyslogPending) {
      slots_[i] = Slot::kSyslogAcked;
      --unacked_;
      ++acked;
    }
    if (i == static_cast<size_t>(last)) break;
  }
  Drain();
  return acked;
}

void RelpSession::Drain() {
  while (count_ > 0 && !server_closed_) {
    const Slot slot = slots_[head_];
    const uint32_t txnr = head_txnr_;
    switch (slot) {
      case Slot::kSyslogPending:
        return;
      case Slot::kSyslogAcked:
        AppendRsp(txnr, "200 OK");
        if (counters_ != nullptr) Inc(counters_->acks);
        break;
      case Slot::kOpenOk:
        AppendRsp(txnr, open_response_);
        break;
      case Slot::kAlreadyOpen:
        AppendRsp(txnr, "200 connection already open - ignored");
        break;
      case Slot::kUnknown:
        AppendRsp(txnr, "500 command not supported");
        break;
      case Slot::kClose:
        AppendRsp(txnr, "200 OK");
        if (state_ == State::kClosing) state_ = State::kClosed;
        break;
    }
    head_ = (head_ + 1) % slots_.size();
    --count_;
    head_txnr_ = RelpNextTxnr(head_txnr_);
  }
}

void RelpSession::AppendRsp(uint32_t txnr, std::string_view text) {
  AppendRelpFrame(txnr, "rsp", text, &output_);
}

void RelpSession::ConsumeOutput(size_t n) {
  output_pos_ += std::min(n, output_.size() - output_pos_);
  if (output_pos_ == output_.size()) {
    output_.clear();  // keeps the capacity: no allocation in steady state
    output_pos_ = 0;
  } else if (output_pos_ > 4096 && output_pos_ * 2 > output_.size()) {
    output_.erase(0, output_pos_);
    output_pos_ = 0;
  }
}

void RelpSession::ServerClose() {
  if (Done()) return;
  AppendRelpFrame(0, "serverclose", "", &output_);
  state_ = State::kClosed;
  server_closed_ = true;
}

void RelpSession::SetError(RelpError error) {
  state_ = State::kError;
  error_ = error;
  if (counters_ != nullptr) Inc(counters_->errors[static_cast<size_t>(error)]);
}

}  // namespace konseki::receiver
