// Status propagation helpers (Abseil 20220623 does not export its own).
//
//   SYNCSTREAM_RETURN_IF_ERROR(DoThing());
//   SYNCSTREAM_ASSIGN_OR_RETURN(UniqueFd fd, OpenThing(path));
#ifndef SYNCSTREAM_CORE_STATUS_MACROS_H_
#define SYNCSTREAM_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SYNCSTREAM_RETURN_IF_ERROR(expr)                \
  do {                                                  \
    ::absl::Status syncstream_status_ = (expr);         \
    if (!syncstream_status_.ok()) return syncstream_status_; \
  } while (0)

#define SYNCSTREAM_STATUS_CONCAT_INNER_(a, b) a##b
#define SYNCSTREAM_STATUS_CONCAT_(a, b) SYNCSTREAM_STATUS_CONCAT_INNER_(a, b)

#define SYNCSTREAM_ASSIGN_OR_RETURN(lhs, expr)                              \
  SYNCSTREAM_ASSIGN_OR_RETURN_IMPL_(                                        \
      SYNCSTREAM_STATUS_CONCAT_(syncstream_statusor_, __LINE__), lhs, expr)

#define SYNCSTREAM_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                      \
  if (!statusor.ok()) return std::move(statusor).status();     \
  lhs = *std::move(statusor)

#endif  // SYNCSTREAM_CORE_STATUS_MACROS_H_
