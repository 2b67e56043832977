#include "outputs/archive_file_cache.h"

#include <algorithm>
#include <utility>

#include "outputs/host_path.h"

namespace konseki::outputs {
namespace {

// First size of a buffer; it doubles as a host sends more between writes.
constexpr size_t kMinBuffer = 4 * 1024;

}  // namespace

ArchiveFileCache::ArchiveFileCache(size_t max_entries, size_t buffer_bytes,
                                   std::shared_ptr<ArchiveBudget> budget, const Clock& clock,
                                   Callback close, Callback write_out)
    : max_entries_(max_entries),
      buffer_bytes_(buffer_bytes),
      budget_(std::move(budget)),
      clock_(clock),
      close_(std::move(close)),
      write_out_(std::move(write_out)) {
  entries_.reserve(max_entries_);
}

ArchiveEntry* ArchiveFileCache::FindOrCreate(std::string_view key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    ArchiveEntry* e = &it->second;
    lru_.MoveToFront(e);
    return e;
  }
  if (entries_.size() >= max_entries_) return Recycle(key);
  std::string k;
  k.reserve(kMaxHostDirLen);
  k.assign(key);
  auto res = entries_.emplace(std::move(k), ArchiveEntry());
  ArchiveEntry* fresh = &res.first->second;
  fresh->host = res.first->first;
  fresh->last_active = clock_.Now();
  lru_.PushFront(fresh);
  return fresh;
}

// Recycles the least recently used entry's node: no allocation. Its buffer
// (if any) goes with it, still charged to the budget.
ArchiveEntry* ArchiveFileCache::Recycle(std::string_view key) {
  ArchiveEntry* victim = lru_.back();
  ++recycled_;
  close_(victim);
  lru_.Unlink(victim);
  auto node = entries_.extract(entries_.find(victim->host));
  node.key().assign(key);
  ArchiveEntry& e = node.mapped();
  e.day = kNoArchiveDay;
  e.messages = 0;
  e.overflow = false;
  e.diverted = false;
  e.divert_reported = false;
  e.continues = false;
  e.buf.clear();
  auto res = entries_.insert(std::move(node));
  ArchiveEntry* fresh = &res.position->second;
  fresh->host = res.position->first;
  lru_.PushFront(fresh);
  return fresh;
}

void ArchiveFileCache::Account(ArchiveEntry* e) {
  // An empty std::string's inline capacity is no heap buffer.
  static const size_t kInline = std::string().capacity();
  const size_t cap = e->buf.capacity() > kInline ? e->buf.capacity() : 0;
  if (cap > e->charged) {
    budget_->Charge(cap - e->charged);
  } else if (cap < e->charged) {
    budget_->Refund(e->charged - cap);
  }
  e->charged = cap;
  if (cap == 0 && IntrusiveList<ArchiveEntry, &ArchiveEntry::warm>::Linked(e)) warm_.Unlink(e);
  if (cap > 0) warm_.MoveToFront(e);
}

void ArchiveFileCache::ReleaseBuffer(ArchiveEntry* e) {
  std::string().swap(e->buf);
  Account(e);
}

void ArchiveFileCache::FreeColdBuffers(const ArchiveEntry* keep, size_t need) {
  const size_t limit = budget_->options().buffer_bytes;
  ArchiveEntry* e = warm_.back();
  while (e != nullptr && budget_->buffer_bytes() + need > limit) {
    ArchiveEntry* prev = IntrusiveList<ArchiveEntry, &ArchiveEntry::warm>::Prev(e);
    if (e != keep) {
      if (!e->buf.empty() && e->fd >= 0) write_out_(e);  // errors counted; data kept
      if (e->buf.empty()) ReleaseBuffer(e);
    }
    e = prev;
  }
}

bool ArchiveFileCache::ReserveBuffer(ArchiveEntry* e, size_t room) {
  const size_t size = e->buf.size();
  if (e->buf.capacity() - size >= room) return true;
  // Grow by doubling up to buffer_bytes + slack (more only for one huge
  // line): a host that sends little holds little.
  const size_t want = std::min(std::max({kMinBuffer, 2 * e->buf.capacity(), size + room}),
                               std::max(buffer_bytes_ + kArchiveLineSlack, size + room));
  const size_t need = want > e->charged ? want - e->charged : 0;
  if (!budget_->TryCharge(need)) {
    FreeColdBuffers(e, need);
    if (!budget_->TryCharge(need)) return false;
  }
  e->charged += need;
  e->buf.reserve(want);
  Account(e);  // the allocator may have given more
  return true;
}

void ArchiveFileCache::ReleaseIdleBuffers(Duration idle) {
  const TimePoint now = clock_.Now();
  for (auto& [key, e] : entries_) {
    if (e.touched) {
      e.touched = false;
      e.last_active = now;
    } else if (e.charged > 0 && e.buf.empty() && now - e.last_active >= idle) {
      ReleaseBuffer(&e);
    }
  }
}

}  // namespace konseki::outputs
