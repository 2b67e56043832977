// Saving, loading and handing over the correlator's state.
//
// Text, one record per line, fields separated by tabs, every string
// percent-escaped (so keys made of sender bytes cannot break the format):
//   konseki-correlation-state 1
//   S <first start ns>
//   H <host> <first seen ns> <address,address>
//   L <set id> <host> <value>
//   K <correlation id> <fingerprint> <touched ns> <key> <first ns> <last ns> <count>
//     <alerted> <open> <times> <value times> <values> <hashes> <members> [<beacon>]
// (K is one line; lists are comma-separated, members "host@received@event;..."
// with "@<worker>" after event for a line in that worker's overflow folder;
// beacon "gap_next,size_next,alerted_ns,scored_count;gaps_ms;sizes", empty
// for other kinds; files written before beacons have 15 fields).
// Keys are written least recently used first, so loading restores the order.
// Watches are not saved: a konseki restart is a gap for every host.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/host_shard.h"
#include "common/log.h"
#include "matchers/correlator_impl.h"

namespace konseki::matchers {
namespace {

constexpr std::string_view kHeader = "konseki-correlation-state 1";

void Escape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c < 0x21 || c == 0x7f || c == '%' || c == ',' || c == ';' || c == '@') {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

bool Unescape(std::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    unsigned v = 0;
    auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (r.ec != std::errc() || r.ptr != s.data() + i + 3) return false;
    out->push_back(static_cast<char>(v));
    i += 2;
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  if (s.empty()) return parts;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

template <typename T>
bool ParseNum(std::string_view s, T* out, int base = 10) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

template <typename T>
void AppendList(const std::vector<T>& v, std::string* out, bool hex = false) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out->push_back(',');
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v[i], hex ? 16 : 10);
    out->append(buf, r.ptr);
  }
}

template <typename T>
bool ParseList(std::string_view s, std::vector<T>* out, bool hex = false) {
  for (std::string_view p : Split(s, ',')) {
    T v{};
    if (!ParseNum(p, &v, hex ? 16 : 10)) return false;
    out->push_back(v);
  }
  return true;
}

void AppendKey(const CompiledCorrelation& c, const KeyTable::Node& n, std::string* out) {
  const KeyState& st = n.state;
  *out += "K\t";
  Escape(c.def.id, out);
  *out += '\t' + std::to_string(c.fingerprint) + '\t' + std::to_string(n.touched_ns) + '\t';
  Escape(n.key, out);
  *out += '\t' + std::to_string(st.first_ns) + '\t' + std::to_string(st.last_ns) + '\t' +
          std::to_string(st.count) + '\t' + (st.alerted ? "1" : "0") + '\t' +
          (st.open ? "1" : "0") + '\t';
  AppendList(st.times, out);
  *out += '\t';
  AppendList(st.value_times, out);
  *out += '\t';
  for (size_t i = 0; i < st.values.size(); ++i) {
    if (i) out->push_back(',');
    Escape(st.values[i], out);
  }
  *out += '\t';
  AppendList(st.hashes, out, true);
  *out += '\t';
  for (size_t i = 0; i < st.members.size(); ++i) {
    if (i) out->push_back(';');
    Escape(st.members[i].host, out);
    *out += '@' + std::to_string(st.members[i].received_ns) + '@' +
            std::to_string(st.members[i].event_ns);
    // Only for a line in an overflow folder, so most files stay readable by
    // the versions before it.
    if (st.members[i].overflow_worker >= 0) {
      *out += '@' + std::to_string(st.members[i].overflow_worker);
    }
  }
  *out += '\t';
  if (const BeaconState* b = st.beacon.get()) {
    *out += std::to_string(b->gap_next) + ',' + std::to_string(b->size_next) + ',' +
            std::to_string(b->alerted_ns) + ',' + std::to_string(b->scored_count) + ';';
    AppendList(b->gaps_ms, out);
    *out += ';';
    AppendList(b->sizes, out);
  }
  *out += '\n';
}

bool ParseKeyState(const std::vector<std::string_view>& f, KeyState* st) {
  std::string tmp;
  if (!ParseNum(f[5], &st->first_ns) || !ParseNum(f[6], &st->last_ns) ||
      !ParseNum(f[7], &st->count) || !ParseList(f[10], &st->times) ||
      !ParseList(f[11], &st->value_times) || !ParseList(f[13], &st->hashes, true)) {
    return false;
  }
  st->alerted = f[8] == "1";
  st->open = f[9] == "1";
  for (std::string_view v : Split(f[12], ',')) {
    if (!Unescape(v, &tmp)) return false;
    st->values.push_back(tmp);
  }
  if (st->values.size() != st->value_times.size() && !st->value_times.empty()) return false;
  for (std::string_view m : Split(f[14], ';')) {
    std::vector<std::string_view> p = Split(m, '@');
    KeyMember km;
    if ((p.size() != 3 && p.size() != 4) || !Unescape(p[0], &km.host) ||
        !ParseNum(p[1], &km.received_ns) || !ParseNum(p[2], &km.event_ns)) {
      return false;
    }
    int64_t worker = -1;
    if (p.size() == 4) {
      if (!ParseNum(p[3], &worker) || worker < 0 || worker > INT32_MAX) return false;
      km.overflow_worker = static_cast<int32_t>(worker);
    }
    st->members.push_back(std::move(km));
  }
  if (f.size() < 16 || f[15].empty()) return true;
  std::vector<std::string_view> parts = Split(f[15], ';');
  std::vector<int64_t> head;
  auto b = std::make_unique<BeaconState>();
  if (parts.size() != 3 || !ParseList(parts[0], &head) || head.size() != 4 ||
      !ParseList(parts[1], &b->gaps_ms) || !ParseList(parts[2], &b->sizes) || head[0] < 0 ||
      head[1] < 0 || head[3] < 0 ||
      static_cast<size_t>(head[0]) >= std::max<size_t>(1, b->gaps_ms.size()) ||
      static_cast<size_t>(head[1]) >= std::max<size_t>(1, b->sizes.size())) {
    return false;
  }
  b->gap_next = static_cast<uint32_t>(head[0]);
  b->size_next = static_cast<uint32_t>(head[1]);
  b->alerted_ns = head[2];
  b->scored_count = static_cast<uint64_t>(head[3]);
  st->beacon = std::move(b);
  return true;
}

}  // namespace

std::string Correlator::SerializeState() const {
  const Impl& m = *impl_;
  std::string out(kHeader);
  out += "\nS\t" + std::to_string(m.first_start_ns) + '\n';
  for (const auto& [name, h] : m.hosts) {
    out += "H\t";
    Escape(name, &out);
    out += '\t' + std::to_string(h.first_seen_ns) + '\t';
    for (size_t i = 0; i < h.addresses.size(); ++i) {
      if (i) out += ',';
      out += h.addresses[i].ToString();
    }
    out += '\n';
    for (size_t s = 0; s < h.learned.size() && s < m.sets.size(); ++s) {
      for (const std::string& v : h.learned[s]) {
        out += "L\t";
        Escape(m.sets[s].def.id, &out);
        out += '\t';
        Escape(name, &out);
        out += '\t';
        Escape(v, &out);
        out += '\n';
      }
    }
  }
  for (const auto& c : m.corrs) {
    c->keys.ForEachOldestFirst([&](const KeyTable::Node& n) { AppendKey(*c, n, &out); });
  }
  return out;
}

Status Correlator::LoadStateText(std::string_view text, size_t* skipped_lines) {
  Impl& m = *impl_;
  std::vector<std::string_view> lines = Split(text, '\n');
  if (lines.empty() || lines[0] != kHeader) {
    return Status::InvalidArgument("not a correlation state (first line is not \"" +
                                   std::string(kHeader) + "\")");
  }
  SvMap<size_t> corr_index;
  for (size_t i = 0; i < m.corrs.size(); ++i) corr_index[m.corrs[i]->def.id] = i;
  std::string a, b, c;
  size_t skipped = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::vector<std::string_view> f = Split(lines[i], '\t');
    bool ok = false;
    if (f[0] == "S" && f.size() == 2) {
      ok = ParseNum(f[1], &m.first_start_ns);
    } else if (f[0] == "H" && f.size() == 4 && Unescape(f[1], &a)) {
      int64_t first = 0;
      ok = ParseNum(f[2], &first);
      if (ok) {
        HostInfo* h = m.Host(a, true, first);
        h->first_seen_ns = first;
        h->watched_since_ns = h->up_since_ns = 0;  // a restart is a gap
        for (std::string_view addr : Split(f[3], ',')) {
          auto parsed = receiver::SenderAddress::Parse(addr);
          if (!parsed || h->addresses.size() >= Impl::kMaxAddresses) continue;
          h->addresses.push_back(*parsed);
          const uint64_t owner = HostHash(a) | 1;
          auto [it, inserted] = m.sender_owner.emplace(*parsed, owner);
          if (!inserted && it->second != owner) it->second = 0;
          if (m.address_hosts) {
            auto [named, fresh] = m.sender_host.try_emplace(*parsed, AsciiLower(a));
            if (!fresh && !HostNamesEqual(named->second, a)) named->second.clear();
          }
        }
      }
    } else if (f[0] == "L" && f.size() == 4 && Unescape(f[1], &a) && Unescape(f[2], &b) &&
               Unescape(f[3], &c)) {
      ok = true;
      for (size_t s = 0; s < m.sets.size(); ++s) {
        if (m.sets[s].def.id != a) continue;
        HostInfo* h = m.Host(b, true, 0);
        if (h->learned[s].size() < Impl::kMaxLearnedPerSet) h->learned[s].push_back(c);
      }
    } else if (f[0] == "K" && (f.size() == 15 || f.size() == 16) && Unescape(f[1], &a) &&
               Unescape(f[4], &b)) {
      uint64_t fp = 0;
      int64_t touched = 0;
      KeyState st;
      ok = ParseNum(f[2], &fp) && ParseNum(f[3], &touched) && ParseKeyState(f, &st);
      auto it = corr_index.find(a);
      // A changed or removed correlation starts afresh.
      if (ok && it != corr_index.end() && m.corrs[it->second]->fingerprint == fp) {
        CompiledCorrelation& corr = *m.corrs[it->second];
        *m.Insert(corr, b, touched) = std::move(st);
      }
    }
    if (!ok) ++skipped;
  }
  m.IndexLearnedAddresses();
  if (skipped_lines != nullptr) {
    *skipped_lines = skipped;
  } else if (skipped > 0) {
    Log(LogLevel::kWarning, "%s: %zu malformed correlation state lines skipped",
        m.options.name.c_str(), skipped);
  }
  return Status::Ok();
}

Status Correlator::SaveState() {
  const std::string& path = impl_->options.state_file;
  if (path.empty()) return Status::Ok();
  const std::string text = SerializeState();
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("cannot write " + tmp, errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("cannot write " + tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Status::FromErrno("cannot sync " + tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::FromErrno("cannot rename " + tmp + " to " + path, errno);
  }
  return Status::Ok();
}

Status Correlator::LoadState(std::vector<DamagedFile>* damaged) {
  const std::string& path = impl_->options.state_file;
  if (path.empty()) return Status::Ok();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::Ok();  // first run
    return Status::FromErrno("cannot read " + path, errno);
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + path);
  const std::string text = std::move(buf).str();
  size_t skipped = 0;
  DamagedFile d;
  d.path = path;
  if (Status s = LoadStateText(text, &skipped); !s.ok()) {
    d.what = text.empty() ? std::string("empty file") : s.message();
    d.lost = "all of it (" + std::to_string(text.size()) +
             " bytes): every correlation window and learned set starts afresh";
  } else if (skipped > 0) {
    // One record a line: the lines before and after a damaged one are kept.
    d.what =
        std::to_string(skipped) + " malformed lines" +
        (!text.empty() && text.back() != '\n' ? " (the file ends in the middle of a line)" : "");
    d.lost = "those " + std::to_string(skipped) +
             " records (correlation keys or hosts); the others are loaded";
  } else {
    return Status::Ok();
  }
  if (damaged != nullptr) damaged->push_back(std::move(d));
  return Status::Ok();
}

void Correlator::TakeStateFrom(Correlator& old) {
  Impl& m = *impl_;
  Impl& o = *old.impl_;
  for (auto& c : m.corrs) {
    for (auto& oc : o.corrs) {
      if (oc->def.id != c->def.id || oc->fingerprint != c->fingerprint) continue;
      o.total_keys -= oc->keys.size();
      std::swap(c->keys, oc->keys);
      m.total_keys += c->keys.size();
    }
  }
  // Hosts: learned sets are re-indexed by set id (packs may have changed).
  for (auto& [name, h] : o.hosts) {
    std::vector<std::vector<std::string>> learned(m.sets.size());
    for (size_t s = 0; s < o.sets.size() && s < h.learned.size(); ++s) {
      for (size_t t = 0; t < m.sets.size(); ++t) {
        if (m.sets[t].def.id == o.sets[s].def.id) learned[t] = std::move(h.learned[s]);
      }
    }
    h.learned = std::move(learned);
  }
  m.hosts = std::move(o.hosts);
  m.sender_owner = std::move(o.sender_owner);
  if (m.address_hosts && o.address_hosts) {
    m.sender_host = std::move(o.sender_host);
  } else if (m.address_hosts) {
    // Every host records its sender again (ObserveHost), now by name too.
    for (auto& [name, h] : m.hosts) h.sender.clear();
  }
  m.IndexLearnedAddresses();
  m.first_start_ns = o.first_start_ns;
}

}  // namespace konseki::matchers
