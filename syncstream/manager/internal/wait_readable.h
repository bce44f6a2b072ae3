// Waiting for a request or reply before receiving it.
//
// net::Connection::Receive first tries to read and only then waits, which
// suits a stream that is usually ahead of its reader. A manager connection
// is the opposite: a call's reply, or a client's next request, is almost
// never there yet. Waiting first saves the read that would find nothing:
// one syscall of the three each waiting receive cost.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_WAIT_READABLE_H_
#define SYNCSTREAM_MANAGER_INTERNAL_WAIT_READABLE_H_

#include "absl/time/time.h"
#include "syncstream/net/connection.h"

namespace syncstream::manager::internal {

// Returns once `connection` has a whole frame buffered, its socket is
// readable (or closed, or shut down), or `deadline` passed. It never reads:
// the caller's Receive then reports what happened, with its own errors.
void WaitUntilReadable(const net::Connection& connection, absl::Time deadline);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_WAIT_READABLE_H_
