// A doubly linked list threaded through its elements: linking, unlinking and
// moving to the front never allocate. An element type holds one ListLinks
// member per list it can be on (the archive keeps its entries on a
// least-recently-used list and on a list of those holding a buffer).
// Not thread-safe; does not own its elements.
#ifndef KONSEKI_OUTPUTS_INTRUSIVE_LIST_H_
#define KONSEKI_OUTPUTS_INTRUSIVE_LIST_H_

namespace konseki::outputs {

template <typename T>
struct ListLinks {
  T* prev = nullptr;
  T* next = nullptr;
  bool linked = false;
};

template <typename T, ListLinks<T> T::*kLinks>
class IntrusiveList {
 public:
  T* front() const { return head_; }
  T* back() const { return tail_; }
  static T* Prev(T* e) { return (e->*kLinks).prev; }
  static bool Linked(const T* e) { return (e->*kLinks).linked; }

  void PushFront(T* e) {
    ListLinks<T>& l = e->*kLinks;
    l.prev = nullptr;
    l.next = head_;
    l.linked = true;
    if (head_ != nullptr) (head_->*kLinks).prev = e;
    head_ = e;
    if (tail_ == nullptr) tail_ = e;
  }
  // Precondition: e is on this list.
  void Unlink(T* e) {
    ListLinks<T>& l = e->*kLinks;
    if (l.prev != nullptr) (l.prev->*kLinks).next = l.next;
    if (l.next != nullptr) (l.next->*kLinks).prev = l.prev;
    if (head_ == e) head_ = l.next;
    if (tail_ == e) tail_ = l.prev;
    l = ListLinks<T>();
  }
  // Links e at the front, or moves it there.
  void MoveToFront(T* e) {
    if (head_ == e) return;
    if (Linked(e)) Unlink(e);
    PushFront(e);
  }

 private:
  T* head_ = nullptr;  // most recently used
  T* tail_ = nullptr;
};

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_INTRUSIVE_LIST_H_
