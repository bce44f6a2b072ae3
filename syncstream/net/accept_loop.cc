#include "syncstream/net/accept_loop.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"

namespace syncstream::net {

void RunAcceptLoop(Listener& listener, const AcceptLoopCallbacks& callbacks) {
  absl::Duration backoff = callbacks.min_backoff;
  uint64_t failures = 0;         // in the current streak
  uint64_t unlogged = 0;         // failures since the last line about them
  absl::Time next_log = absl::InfinitePast();
  for (;;) {
    absl::StatusOr<Listener::AcceptedSocket> accepted =
        listener.AcceptSocket(absl::Seconds(1));
    if (callbacks.between) callbacks.between();
    if (accepted.ok()) {
      if (failures > 0) {
        callbacks.log(absl::StrCat("accept on ", listener.address().ToString(),
                                   ": accepting again after ", failures,
                                   " failures"));
        failures = 0;
        unlogged = 0;
        next_log = absl::InfinitePast();
        backoff = callbacks.min_backoff;
      }
      callbacks.on_accept(std::move(*accepted));
      continue;
    }
    const absl::Status& status = accepted.status();
    if (absl::IsCancelled(status)) return;
    if (absl::IsDeadlineExceeded(status)) continue;
    ++failures;
    ++unlogged;
    const absl::Time now = ::syncstream::Now();
    if (now >= next_log) {
      callbacks.log(
          unlogged == 1
              ? std::string(status.ToString())
              : absl::StrCat(status.ToString(), " (", unlogged,
                             " failures since the last report)"));
      unlogged = 0;
      next_log = now + absl::Seconds(10);
    }
    // Pending clients keep the socket readable: wait without polling it.
    if (listener.WaitForShutdown(backoff)) return;
    backoff = std::min(backoff * 2, callbacks.max_backoff);
  }
}

}  // namespace syncstream::net
