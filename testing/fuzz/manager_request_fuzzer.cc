// The manager's request decoding and dispatch: arbitrary bytes as a stream of
// delimited Request frames (as a client connection delivers them), each run
// by a Dispatcher holding one object of every built-in type. Calls never
// wait here (the connection's fast path); whatever the bytes say, decoding
// and dispatch must not crash, hang or leak, and every reply must carry its
// request's id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "syncstream/manager/internal/dispatcher.h"
#include "syncstream/manager/manager.pb.h"
#include "syncstream/net/frame.h"

namespace {

using syncstream::manager::Value;
using syncstream::manager::internal::Dispatcher;
using syncstream::manager::internal::Session;
namespace proto = syncstream::manager::proto;

void Create(Dispatcher& dispatcher, Session& session, const char* type,
            const Value& arg) {
  proto::Request request;
  request.set_request_id(1);
  request.set_method("create");
  syncstream::manager::ToProto(Value(type), request.add_args());
  if (!arg.is_null()) syncstream::manager::ToProto(arg, request.add_args());
  proto::Response response;
  dispatcher.Execute(session, request, /*may_block=*/false, &response);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Dispatcher dispatcher;
  std::unique_ptr<Session> owner = dispatcher.OpenSession("owner");
  std::unique_ptr<Session> fuzzed = dispatcher.OpenSession("fuzzed");
  // Objects #1.. for the fuzzed requests to address.
  Create(dispatcher, *owner, "lock", Value());
  Create(dispatcher, *owner, "rlock", Value());
  Create(dispatcher, *owner, "semaphore", Value(2));
  Create(dispatcher, *owner, "bounded_semaphore", Value(1));
  Create(dispatcher, *owner, "event", Value());
  Create(dispatcher, *owner, "condition", Value());
  Create(dispatcher, *owner, "barrier", Value(2));
  Create(dispatcher, *owner, "queue", Value(2));
  Create(dispatcher, *owner, "list", Value());
  Create(dispatcher, *owner, "dict", Value());
  Create(dispatcher, *owner, "value", Value());
  Create(dispatcher, *owner, "namespace", Value());

  absl::string_view input(reinterpret_cast<const char*>(data), size);
  proto::Request request;
  proto::Response response;
  for (int frames = 0; frames < 64 && !input.empty(); ++frames) {
    absl::StatusOr<size_t> used =
        syncstream::net::DecodeFrame(input, 1 << 20, &request);
    if (!used.ok() || *used == 0) break;  // the server closes the connection
    input.remove_prefix(*used);
    if (dispatcher.Execute(*fuzzed, request, /*may_block=*/false,
                           &response) &&
        response.request_id() != request.request_id()) {
      std::abort();
    }
  }
  dispatcher.CloseSession(*fuzzed);
  dispatcher.EndSession(*fuzzed);
  dispatcher.CloseSession(*owner);
  dispatcher.EndSession(*owner);
  return 0;
}
