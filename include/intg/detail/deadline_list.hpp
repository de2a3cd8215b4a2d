// An intrusive, mutex-guarded list of attempt deadlines. A clock's watchdog fires the expired ones.
// Only attempts whose operation actually starts a cancellable wait are ever linked here, so the
// hot path (an operation that completes at once) never touches the lock.
#pragma once

#include <chrono>
#include <mutex>

namespace intg::detail {

using time_point = std::chrono::steady_clock::time_point;

struct deadline_list;

struct deadline_node {
  deadline_node* prev = nullptr;
  deadline_node* next = nullptr;
  deadline_list* owner = nullptr;  // set while linked; guarded by owner->mutex
  time_point deadline{};
  void (*fire)(deadline_node&) = nullptr;  // called once, without the list lock, after unlinking
};

struct deadline_list {
  std::mutex mutex;
  deadline_node head;  // sentinel
  // Called under the lock when remove() takes the last node out (a watchdog stops its timer, so
  // an idle io_context is not kept busy by a deadline nobody waits for any more).
  void (*on_empty)(void* context) = nullptr;
  void* on_empty_context = nullptr;

  deadline_list() noexcept { head.prev = head.next = &head; }
  deadline_list(const deadline_list&) = delete;
  deadline_list& operator=(const deadline_list&) = delete;

  // Requires the lock.
  void link(deadline_node& n) noexcept {
    n.owner = this;
    n.prev = head.prev;
    n.next = &head;
    head.prev->next = &n;
    head.prev = &n;
  }
  static void unlink(deadline_node& n) noexcept {
    n.prev->next = n.next;
    n.next->prev = n.prev;
    n.prev = n.next = nullptr;
    n.owner = nullptr;
  }

  /// Removes the node; false when the watchdog already took it to fire.
  static bool remove(deadline_node& n) noexcept {
    deadline_list* owner = n.owner;
    if (!owner) return false;
    std::lock_guard lock(owner->mutex);
    if (n.owner != owner) return false;
    unlink(n);
    if (owner->head.next == &owner->head && owner->on_empty) owner->on_empty(owner->on_empty_context);
    return true;
  }

  /// Unlinks every node due at `now`, fires them, and returns the earliest remaining deadline.
  time_point fire_expired(time_point now) {
    deadline_node* due = nullptr;  // singly linked through `next` after unlinking
    time_point earliest = time_point::max();
    {
      std::lock_guard lock(mutex);
      for (deadline_node* n = head.next; n != &head;) {
        deadline_node* next = n->next;
        if (n->deadline <= now) {
          unlink(*n);
          n->next = due;
          due = n;
        } else if (n->deadline < earliest) {
          earliest = n->deadline;
        }
        n = next;
      }
    }
    while (due) {
      deadline_node* next = due->next;
      due->next = nullptr;
      due->fire(*due);
      due = next;
    }
    return earliest;
  }
};

}  // namespace intg::detail
