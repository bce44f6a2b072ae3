// The names of the methods of the manager's objects, as they travel in a
// request (manager.proto: Request.method). The proxies (client side) and the
// objects and dispatcher (server side) name them only through these
// constants, so that a misspelled name does not compile.
#ifndef SYNCSTREAM_MANAGER_METHOD_NAMES_H_
#define SYNCSTREAM_MANAGER_METHOD_NAMES_H_

#include "absl/strings/string_view.h"

namespace syncstream::manager::methods {

inline constexpr absl::string_view kAbort = "abort";
inline constexpr absl::string_view kAcquire = "acquire";
inline constexpr absl::string_view kAdd = "add";
inline constexpr absl::string_view kAppend = "append";
inline constexpr absl::string_view kAttach = "attach";
inline constexpr absl::string_view kBroken = "broken";
inline constexpr absl::string_view kCancel = "cancel";
inline constexpr absl::string_view kClear = "clear";
inline constexpr absl::string_view kContains = "contains";
inline constexpr absl::string_view kCount = "count";
inline constexpr absl::string_view kCreate = "create";
inline constexpr absl::string_view kDelete = "delete";
inline constexpr absl::string_view kEmpty = "empty";
inline constexpr absl::string_view kExtend = "extend";
inline constexpr absl::string_view kFull = "full";
inline constexpr absl::string_view kGet = "get";
inline constexpr absl::string_view kGetAll = "get_all";
inline constexpr absl::string_view kGetOrCreate = "get_or_create";
inline constexpr absl::string_view kIndex = "index";
inline constexpr absl::string_view kInsert = "insert";
inline constexpr absl::string_view kIsSet = "is_set";
inline constexpr absl::string_view kItems = "items";
inline constexpr absl::string_view kJoin = "join";
inline constexpr absl::string_view kKeys = "keys";
inline constexpr absl::string_view kLen = "len";
inline constexpr absl::string_view kLocked = "locked";
inline constexpr absl::string_view kNWaiting = "n_waiting";
inline constexpr absl::string_view kNotify = "notify";
inline constexpr absl::string_view kNotifyAll = "notify_all";
inline constexpr absl::string_view kObjects = "objects";
inline constexpr absl::string_view kParties = "parties";
inline constexpr absl::string_view kPing = "ping";
inline constexpr absl::string_view kPop = "pop";
inline constexpr absl::string_view kPut = "put";
inline constexpr absl::string_view kQsize = "qsize";
inline constexpr absl::string_view kRelease = "release";
inline constexpr absl::string_view kRemove = "remove";
inline constexpr absl::string_view kReset = "reset";
inline constexpr absl::string_view kReverse = "reverse";
inline constexpr absl::string_view kSet = "set";
inline constexpr absl::string_view kSetAll = "set_all";
inline constexpr absl::string_view kSetdefault = "setdefault";
inline constexpr absl::string_view kTaskDone = "task_done";
inline constexpr absl::string_view kTypes = "types";
inline constexpr absl::string_view kUpdate = "update";
inline constexpr absl::string_view kValue = "value";
inline constexpr absl::string_view kValues = "values";
inline constexpr absl::string_view kWait = "wait";

}  // namespace syncstream::manager::methods

#endif  // SYNCSTREAM_MANAGER_METHOD_NAMES_H_
