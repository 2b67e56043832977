#include "receiver/zone_map.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace konseki::receiver {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }

uint64_t Load8(const char* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

// The length and the first and last 8 bytes with 0x20 set in each (upper
// and lower case letters alike; other bytes may meet, the compare after
// the probe decides): a few loads and multiplies, no loop over the name.
uint64_t HashName(std::string_view s) {
  constexpr uint64_t kFold = 0x2020202020202020ull;
  const size_t n = s.size();
  const uint64_t head = Load8(s.data(), std::min<size_t>(n, 8)) | kFold;
  const uint64_t tail = n > 8 ? Load8(s.data() + n - 8, 8) | kFold : 0;
  uint64_t h = (head ^ (n * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
  h = (h ^ (h >> 29) ^ tail) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 32);
}

bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Lower(s[i]) != lower[i]) return false;
  }
  return true;
}

// '*' matches any run of bytes; everything else itself (case-insensitive).
bool GlobMatch(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (pi < p.size() && p[pi] == Lower(s[si])) {
      ++pi;
      ++si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool ParseAddress(std::string_view text, std::array<uint8_t, 16>* out) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  uint8_t v4[4];
  if (inet_pton(AF_INET, buf, v4) == 1) {
    *out = {};
    (*out)[10] = 0xff;
    (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, v4, 4);
    return true;
  }
  return inet_pton(AF_INET6, buf, out->data()) == 1;
}

bool InPrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& net, int prefix) {
  int i = 0;
  for (; prefix >= 8; prefix -= 8, ++i) {
    if (a[i] != net[i]) return false;
  }
  if (prefix == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - prefix));
  return (a[i] & mask) == (net[i] & mask);
}

// "UTC", "Z", "+HH:MM", "-HH:MM" (as parser.timezone takes them).
bool ParseFixedOffset(std::string_view z, int* secs) {
  if (z == "UTC" || z == "utc" || z == "Z") {
    *secs = 0;
    return true;
  }
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (z.size() != 6 || (z[0] != '+' && z[0] != '-') || z[3] != ':' || !digit(z[1]) ||
      !digit(z[2]) || !digit(z[4]) || !digit(z[5])) {
    return false;
  }
  const int h = (z[1] - '0') * 10 + (z[2] - '0');
  const int m = (z[4] - '0') * 10 + (z[5] - '0');
  if (h > 14 || m > 59) return false;
  *secs = (z[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  return true;
}

}  // namespace

StatusOr<std::unique_ptr<ZoneMap>> ZoneMap::Build(const std::vector<ZoneRuleSpec>& rules) {
  auto map = std::make_unique<ZoneMap>();
  std::vector<std::pair<std::string, int32_t>> exact;
  for (size_t i = 0; i < rules.size(); ++i) {
    const ZoneRuleSpec& r = rules[i];
    const std::string where = "parser.timezones[" + std::to_string(i) + "]";
    const auto index = static_cast<int32_t>(i);
    Zone z;
    if (r.zone.empty()) return Status::InvalidArgument(where + ": zone is required");
    if (!ParseFixedOffset(r.zone, &z.fixed_offset_secs)) {
      auto loaded = LocalZone::Load(r.zone);
      if (!loaded.ok()) return Status::InvalidArgument(where + ": " + loaded.status().message());
      z.zone = loaded->get();
      map->owned_.push_back(std::move(*loaded));
    }
    map->zones_.push_back(z);
    if (r.hosts.empty() && r.networks.empty()) {
      return Status::InvalidArgument(where + ": give hosts, networks or both");
    }
    for (const std::string& h : r.hosts) {
      std::string lower(h);
      for (char& c : lower) c = Lower(c);
      if (lower.empty() || lower.find(' ') != std::string::npos) {
        return Status::InvalidArgument(where + ": host '" + h + "' is not a host name or pattern");
      }
      if (lower.find('*') != std::string::npos) {
        map->globs_.push_back({std::move(lower), index});
      } else if (std::none_of(exact.begin(), exact.end(),
                              [&](const auto& e) { return e.first == lower; })) {
        exact.emplace_back(std::move(lower), index);  // the first entry naming it wins
      }
    }
    for (const std::string& n : r.networks) {
      const size_t slash = n.find('/');
      Network net;
      net.zone = index;
      std::string_view addr = std::string_view(n).substr(0, slash);
      if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') {
        addr = addr.substr(1, addr.size() - 2);
      }
      const bool v4 = addr.find(':') == std::string_view::npos;
      int prefix = v4 ? 32 : 128;
      bool ok = ParseAddress(addr, &net.bytes);
      if (ok && slash != std::string::npos) {
        const std::string bits = n.substr(slash + 1);
        ok = !bits.empty() && bits.size() <= 3 &&
             std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (ok) prefix = std::stoi(bits);
        ok = ok && prefix <= (v4 ? 32 : 128);
      }
      if (!ok) {
        return Status::InvalidArgument(where + ": network '" + n +
                                       "' is not an address or CIDR (10.8.0.0/16, 2001:db8::/32)");
      }
      net.prefix = v4 ? prefix + 96 : prefix;
      std::array<uint8_t, 16> masked = net.bytes;
      for (int b = net.prefix; b < 128; ++b)
        masked[b / 8] &= static_cast<uint8_t>(~(0x80 >> (b % 8)));
      if (masked != net.bytes) {
        return Status::InvalidArgument(where + ": network '" + n + "' has host bits set");
      }
      map->networks_.push_back(net);
    }
  }
  if (!exact.empty()) {
    size_t size = 8;
    while (size < exact.size() * 2) size *= 2;
    map->exact_.resize(size);
    for (auto& [name, zone] : exact) {
      const uint64_t h = HashName(name);
      size_t s = h & (size - 1);
      while (map->exact_[s].zone >= 0) s = (s + 1) & (size - 1);
      map->exact_[s] = {h, std::move(name), zone};
    }
  }
  return map;
}

int32_t ZoneMap::FindNetwork(std::string_view sender) const {
  std::array<uint8_t, 16> a;
  if (!ParseAddress(sender, &a)) return -1;
  for (const Network& n : networks_) {
    if (InPrefix(a, n.bytes, n.prefix)) return n.zone;
  }
  return -1;
}

const ZoneMap::Zone* ZoneMap::Find(std::string_view hostname, std::string_view sender,
                                   Memo* memo) const {
  if (!hostname.empty()) {
    if (!exact_.empty()) {
      const uint64_t h = HashName(hostname);
      const size_t mask = exact_.size() - 1;
      for (size_t s = h & mask; exact_[s].zone >= 0; s = (s + 1) & mask) {
        if (exact_[s].hash == h && EqualsLower(hostname, exact_[s].name)) {
          return &zones_[static_cast<size_t>(exact_[s].zone)];
        }
      }
    }
    for (const Glob& g : globs_) {
      if (GlobMatch(g.pattern, hostname)) return &zones_[static_cast<size_t>(g.zone)];
    }
  }
  if (networks_.empty() || sender.empty()) return nullptr;
  int32_t found;
  if (memo != nullptr && memo->map == this && memo->length == sender.size() &&
      std::memcmp(memo->sender.data(), sender.data(), sender.size()) == 0) {
    found = memo->result;
  } else {
    found = FindNetwork(sender);
    if (memo != nullptr && sender.size() <= memo->sender.size()) {
      memo->map = this;
      memo->result = found;
      memo->length = static_cast<uint8_t>(sender.size());
      std::memcpy(memo->sender.data(), sender.data(), sender.size());
    }
  }
  return found < 0 ? nullptr : &zones_[static_cast<size_t>(found)];
}

}  // namespace konseki::receiver
