#include "receiver/sender_allowlist.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace konseki::receiver {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool MatchesPrefix(const SenderAddress& a, const SenderAddress& network, int bits) {
  const int whole = bits / 8;
  if (std::memcmp(a.bytes.data(), network.bytes.data(), static_cast<size_t>(whole)) != 0) {
    return false;
  }
  const int rest = bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == network.bytes[whole];
}

SenderAddress ClearHostBits(SenderAddress a, int bits) {
  for (int i = 0; i < 16; ++i) {
    const int keep = std::min(8, std::max(0, bits - i * 8));
    const uint8_t mask = keep == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
    a.bytes[i] &= mask;
  }
  return a;
}

}  // namespace

SenderAddress SenderAddress::FromSockaddr(const sockaddr* sa) {
  SenderAddress a;
  if (sa->sa_family == AF_INET) {
    std::memcpy(a.bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size());
    std::memcpy(a.bytes.data() + 12, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  }
  return a;
}

std::optional<SenderAddress> SenderAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  SenderAddress a;
  in_addr v4;
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    std::memcpy(a.bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size());
    std::memcpy(a.bytes.data() + 12, &v4, 4);
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) return a;
  return std::nullopt;
}

bool SenderAddress::is_v4() const {
  return std::memcmp(bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0;
}

std::string SenderAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

size_t SenderAddressHash::operator()(const SenderAddress& a) const {
  uint64_t hi;
  uint64_t lo;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  // 64-bit mix (splitmix finaliser) of the two halves.
  uint64_t h = hi * 0x9e3779b97f4a7c15ULL ^ lo;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<size_t>(h);
}

StatusOr<SenderAllowlist> SenderAllowlist::Parse(const std::vector<std::string>& entries) {
  if (entries.empty()) {
    return Status::InvalidArgument(
        "allow: the list is empty, which would refuse every sender; remove the `allow` key to "
        "accept any sender, or list ranges such as [10.0.0.0/8, \"::1/128\"]");
  }
  SenderAllowlist list;
  list.configured_ = true;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("allow[" + std::to_string(i) + "] \"" + entry + "\": " + why +
                                     " (examples: 10.0.0.0/8, 192.0.2.7, \"2001:db8::/32\", "
                                     "\"::1\")");
    };
    std::string_view text = entry;
    std::string_view prefix_text;
    const size_t slash = text.find('/');
    const bool has_prefix = slash != std::string_view::npos;
    if (has_prefix) {
      prefix_text = text.substr(slash + 1);
      text = text.substr(0, slash);
    }
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
      text = text.substr(1, text.size() - 2);
    }
    std::optional<SenderAddress> addr = SenderAddress::Parse(text);
    if (!addr) return bad("not a numeric IPv4 or IPv6 address (host names are not accepted)");
    const bool v4_text = text.find(':') == std::string_view::npos;
    const int max_bits = v4_text ? 32 : 128;
    int bits = max_bits;
    if (has_prefix) {
      if (prefix_text.empty() || prefix_text.size() > 3 ||
          prefix_text.find_first_not_of("0123456789") != std::string_view::npos) {
        return bad("the prefix length after '/' must be a number 0.." + std::to_string(max_bits));
      }
      bits = std::stoi(std::string(prefix_text));
      if (bits > max_bits) {
        return bad("prefix length " + std::to_string(bits) + " is longer than " +
                   std::to_string(max_bits) + " bits");
      }
    }
    const int bits128 = v4_text ? 96 + bits : bits;
    Range r;
    r.network = ClearHostBits(*addr, bits128);
    r.prefix_bits = bits128;
    if (!(r.network == *addr)) {
      return bad("host bits set beyond /" + std::to_string(bits) + "; did you mean " +
                 r.network.ToString() + "/" + std::to_string(bits) + "?");
    }
    list.ranges_.push_back(r);
  }
  return list;
}

bool SenderAllowlist::Allows(const SenderAddress& a) const {
  if (!configured_) return true;
  for (const Range& r : ranges_) {
    if (MatchesPrefix(a, r.network, r.prefix_bits)) return true;
  }
  return false;
}

std::string SenderAllowlist::ToString() const {
  if (!configured_) return "any";
  std::string out;
  for (const Range& r : ranges_) {
    if (!out.empty()) out += ", ";
    // An IPv4-mapped range written with a prefix of at least 96 bits is shown
    // as IPv4: it matches exactly the IPv4 senders of that range.
    const bool v4 = r.network.is_v4() && r.prefix_bits >= 96;
    out += r.network.ToString() + "/" + std::to_string(v4 ? r.prefix_bits - 96 : r.prefix_bits);
  }
  return out;
}

namespace {

const char* SignOf(RefusalReporter::Kind kind) {
  return kind == RefusalReporter::Kind::kRefused ? "receiver.refused"
                                                 : "receiver.connections_evicted";
}

}  // namespace

RefusalReporter::RefusalReporter(AlertSink* sink, std::string listener, std::string transport,
                                 MetricsRegistry& metrics, const RefusalReporterOptions& options,
                                 Kind kind)
    : sink_(sink),
      kind_(kind),
      listener_(std::move(listener)),
      transport_(std::move(transport)),
      options_(options),
      suppressed_counter_(metrics.GetCounter("konseki_suppressed_alerts_total",
                                             "Alerts held back by a rate limit",
                                             {{"sign", SignOf(kind)}})) {}

void RefusalReporter::Forget(TimePoint now) {
  const auto interval = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(options_.per_source_interval_secs));
  std::erase_if(last_alert_, [&](const auto& kv) { return now - kv.second >= interval; });
  // Still full: forget everyone; the global cap keeps holding the alerts back.
  if (last_alert_.size() >= options_.max_tracked_sources) last_alert_.clear();
}

bool RefusalReporter::Admit(const SenderAddress& src, TimePoint now) {
  const auto interval = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(options_.per_source_interval_secs));
  auto suppress = [&] {
    ++suppressed_since_alert_;
    ++suppressed_total_;
    suppressed_counter_->Inc();
    return false;
  };
  auto it = last_alert_.find(src);
  if (it != last_alert_.end() && now - it->second < interval && now >= it->second) {
    return suppress();
  }
  if (now - window_start_ >= std::chrono::minutes(1) || now < window_start_) {
    window_start_ = now;
    alerts_in_window_ = 0;
  }
  if (alerts_in_window_ >= options_.max_alerts_per_minute) return suppress();
  ++alerts_in_window_;
  if (it != last_alert_.end()) {
    it->second = now;
  } else {
    if (last_alert_.size() >= options_.max_tracked_sources) Forget(now);
    if (options_.max_tracked_sources > 0) last_alert_.emplace(src, now);
  }
  return true;
}

void RefusalReporter::EmitAlert(const SenderAddress& src, TimePoint now, Severity severity,
                                std::string title,
                                std::vector<std::pair<std::string, std::string>> extra) {
  if (sink_ != nullptr) {
    Alert a;
    a.time = now;
    a.received = now;
    a.sender = src.ToString();
    a.host = a.sender;  // no hostname: nothing was parsed from this sender
    a.rule = a.sign = SignOf(kind_);
    a.severity = severity;
    a.title = std::move(title);
    a.fields = {{"src_ip", a.sender}, {"listener", listener_}, {"transport", transport_}};
    for (auto& f : extra) a.fields.push_back(std::move(f));
    a.fields.emplace_back("suppressed", std::to_string(suppressed_since_alert_));
    sink_->Emit(a);
  }
  suppressed_since_alert_ = 0;
}

bool RefusalReporter::Report(const SenderAddress& src, TimePoint now) {
  if (!Admit(src, now)) return false;
  if (kind_ == Kind::kRefused) {
    EmitAlert(src, now, Severity::kMedium,
              "Sender not in the allowlist of " + listener_ + " refused", {});
  } else {
    EmitAlert(src, now, Severity::kMedium,
              "A sender reached tcp.max_connections_per_source on " + listener_ +
                  ": its longest idle connection was closed for a new one, and what it had just "
                  "written there is lost (hosts behind one NAT address or relay: raise the limit)",
              {});
  }
  return true;
}

bool RefusalReporter::ReportEviction(const SenderAddress& evicted, const SenderAddress& newcomer,
                                     bool held_data, bool acknowledges, TimePoint now) {
  if (!Admit(evicted, now)) return false;
  const bool full = kind_ == Kind::kEvictedFull;
  std::string title =
      full ? "The listener " + listener_ +
                 " reached tcp.max_connections: a connection of the source holding the most "
                 "slots was closed for a new one from " +
                 newcomer.ToString() + " (a connection flood, or a limit too small)"
           : "A sender reached tcp.max_connections_per_source on " + listener_ +
                 ": its longest idle connection was closed for a new one";
  if (acknowledges) {
    title += held_data
                 ? "; its messages not yet acknowledged stay with the sender, which resends them"
                 : "; it held nothing unread or unacknowledged (an idle or dead session): "
                   "nothing was lost";
  } else if (held_data) {
    title +=
        "; what its sender had just written there is lost (plain TCP has no "
        "acknowledgements)";
  } else {
    title += full ? "; it was idle and held nothing unread, but a line its sender writes before "
                    "it notices the close is lost (plain TCP has no acknowledgements)"
                  : "; it was idle and held nothing unread: nothing was lost";
  }
  if (!full) title += " (hosts behind one NAT address or relay: raise the limit)";
  const Severity severity =
      full || (held_data && !acknowledges) ? Severity::kMedium : Severity::kLow;
  EmitAlert(evicted, now, severity, std::move(title),
            {{"new_src_ip", newcomer.ToString()},
             {"reason", full ? "max_connections" : "max_connections_per_source"},
             {"held_data", held_data ? "true" : "false"}});
  return true;
}

}  // namespace konseki::receiver
