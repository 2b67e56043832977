#include "matchers/field_carry.h"

#include <algorithm>

namespace konseki::matchers {
namespace {

std::string_view FieldOf(const RuleHit& hit, std::string_view name) {
  for (const auto& [k, v] : hit.fields) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace

bool FieldCarry::MakeKey(const Message& msg, const RuleHit& hit, const Rule::Carry& carry) {
  key_.assign(msg.host());
  key_ += '\x1f';
  key_ += carry.name;
  for (const std::string& name : carry.key) {
    const std::string_view v = HitKeyValue(msg, hit, name);
    if (v.empty()) return false;
    key_ += '\x1f';
    key_ += v;
  }
  return true;
}

bool FieldCarry::Apply(const Message& msg, const AlertIgnore& ignore, std::vector<RuleHit>* hits) {
  const int64_t now = msg.received.time_since_epoch().count();
  bool changed = false;
  for (RuleHit& hit : *hits) {
    const Rule& rule = *hit.rule;
    if (!rule.recall.name.empty() && MakeKey(msg, hit, rule.recall)) {
      auto it = entries_.find(key_);
      if (it != entries_.end() && it->second.expires_ns >= now) {
        bool added = false;
        for (const std::string& name : rule.recall.fields) {
          auto stored = std::find_if(it->second.fields.begin(), it->second.fields.end(),
                                     [&](const auto& f) { return f.first == name; });
          if (stored == it->second.fields.end()) continue;
          auto own = std::find_if(hit.fields.begin(), hit.fields.end(),
                                  [&](const auto& f) { return f.first == name; });
          if (own == hit.fields.end()) {
            hit.fields.emplace_back(name, stored->second);
            added = true;
          } else if (own->second.empty()) {
            own->second = stored->second;
            added = true;
          }
        }
        if (added) {
          hit.ignored = hit.ignored || ignore.Ignores(hit.fields);
          changed = true;
        }
      }
    }
    if (!rule.remember.name.empty() && MakeKey(msg, hit, rule.remember)) {
      auto it = entries_.find(key_);
      if (it == entries_.end()) {
        if (entries_.size() >= kMaxEntries) Prune(now);
        it = entries_.emplace(key_, Entry{}).first;
      }
      Entry& e = it->second;
      e.expires_ns = now + int64_t{rule.remember.secs} * 1'000'000'000;
      e.stored_ns = now;
      for (const std::string& name : rule.remember.fields) {
        const std::string_view v = FieldOf(hit, name);
        if (v.empty()) continue;
        auto stored = std::find_if(e.fields.begin(), e.fields.end(),
                                   [&](const auto& f) { return f.first == name; });
        if (stored == e.fields.end()) {
          e.fields.emplace_back(name, std::string(v));
        } else {
          stored->second.assign(v);
        }
      }
    }
  }
  return changed;
}

void FieldCarry::Prune(int64_t now_ns) {
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.expires_ns < now_ns; });
  const size_t before = entries_.size();
  if (entries_.size() >= kMaxEntries) {
    // Nothing past its time: the oldest half goes (a flood of connections
    // that never fail). The worst case is a failure without its source.
    std::vector<int64_t> stamps;
    stamps.reserve(entries_.size());
    for (const auto& [k, e] : entries_) stamps.push_back(e.stored_ns);
    auto mid = stamps.begin() + static_cast<std::ptrdiff_t>(stamps.size() / 2);
    std::nth_element(stamps.begin(), mid, stamps.end());
    const int64_t cut = *mid;
    std::erase_if(entries_, [&](const auto& kv) { return kv.second.stored_ns <= cut; });
  }
  evicted_ += before - entries_.size();
}

}  // namespace konseki::matchers
