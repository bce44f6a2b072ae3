// Futex wait/wake on a 32-bit word that several processes share, and an
// EventWord built on it: "sleep until something changes", with no lost
// wake-ups and no system call for the notifier unless someone sleeps.
//
// The futex calls are the shared (non-private) kind, so the word may live in
// memory mapped by several processes (MAP_SHARED). Every wait has a timeout:
// absl::ZeroDuration() does not sleep, absl::InfiniteDuration() sleeps until
// woken (an explicit request).
#ifndef SYNCSTREAM_CORE_FUTEX_H_
#define SYNCSTREAM_CORE_FUTEX_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace syncstream {

enum class FutexWaitResult {
  kWoken,         // FUTEX_WAKE reached us (or a spurious wake-up)
  kValueChanged,  // *word != expected when the call started
  kTimedOut,
  kInterrupted,   // a signal arrived
};

// Sleeps while `*word == expected`, for at most `timeout`.
FutexWaitResult FutexWait(std::atomic<uint32_t>* word, uint32_t expected,
                          absl::Duration timeout);
// Wakes up to `count` sleepers on `word`; returns how many were woken.
int FutexWake(std::atomic<uint32_t>* word, int count);

// EventWord: a view over a shared 32-bit word; bit 0 says "someone sleeps",
// the other bits are an epoch bumped by every Notify that finds a sleeper.
//
//   Sleeper:                          Notifier:
//     uint32_t e = ev.Prepare();        publish the change (seq_cst)
//     if (condition) done;              ev.Notify();
//     ev.Wait(e, timeout);
//     loop
//
// Prepare() announces the sleeper (seq_cst) before the sleeper re-checks its
// condition, and Notify() reads the word (seq_cst) after the change is
// published, so either the sleeper sees the change or the notifier sees the
// sleeper: no lost wake-up. A sleeper that dies leaves the bit set; the next
// Notify clears it (one spare FutexWake), so nothing stays slow.
class EventWord {
 public:
  explicit EventWord(std::atomic<uint32_t>* word) : word_(word) {}

  // Marks a sleeper and returns the value to pass to Wait().
  uint32_t Prepare() {
    uint32_t value = word_->load(std::memory_order_seq_cst);
    while ((value & 1u) == 0 &&
           !word_->compare_exchange_weak(value, value | 1u,
                                         std::memory_order_seq_cst)) {
    }
    return value | 1u;
  }

  // Sleeps until a Notify after Prepare() returned `prepared`, or timeout.
  FutexWaitResult Wait(uint32_t prepared, absl::Duration timeout) {
    return FutexWait(word_, prepared, timeout);
  }

  // Wakes every sleeper, if any announced itself. Cheap (one load) otherwise.
  void Notify() {
    uint32_t value = word_->load(std::memory_order_seq_cst);
    if ((value & 1u) == 0) return;
    // Clear the sleeper bit and bump the epoch in one step.
    while (!word_->compare_exchange_weak(value, (value | 1u) + 1u,
                                         std::memory_order_seq_cst)) {
      if ((value & 1u) == 0) return;  // another notifier got there first
    }
    FutexWake(word_, INT32_MAX);
  }

  bool HasSleepers() const {
    return (word_->load(std::memory_order_relaxed) & 1u) != 0;
  }

 private:
  std::atomic<uint32_t>* word_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_FUTEX_H_
