// SharedDiskFixture: several simulated hosts sharing one directory, each
// through its own FUSE view (bindfs), made and removed by the test itself.
//
//   kCoherent     bindfs --multithreaded --enable-lock-forwarding
//                   -o attr_timeout=0,entry_timeout=0,negative_timeout=0
//                 fcntl/flock/OFD locks, O_EXCL and link() behave across the
//                 views as on one host; nothing is cached.
//   kMisbehaving  plain `bindfs REAL HOSTDIR`: like NFS mounted `nolock`
//                 with attribute caching. fcntl/flock locks are NOT shared
//                 between views, attributes (sizes, link counts) are cached
//                 for a second, while O_EXCL still fails with EEXIST across
//                 views and a file opened anew shows current content.
//
// (Both claims are checked by nfs_fixture_test.) Needs /dev/fuse, bindfs and
// fusermount3 (./bazelw installs the packages); UnavailableReason() says why
// not, for a test to skip with that message.
#ifndef SYNCSTREAM_TESTING_NFS_FIXTURE_H_
#define SYNCSTREAM_TESTING_NFS_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace syncstream::testing {

enum class SharedDiskMode { kCoherent, kMisbehaving };
absl::string_view SharedDiskModeName(SharedDiskMode mode);

class SharedDiskFixture {
 public:
  // "" when FUSE mounts can be made here, else the reason.
  static std::string UnavailableReason();

  // Creates REAL and `hosts` views under $TEST_TMPDIR (or /tmp), each
  // mounted within `timeout`.
  static absl::StatusOr<std::unique_ptr<SharedDiskFixture>> Create(
      SharedDiskMode mode, int hosts,
      absl::Duration timeout = absl::Seconds(10));
  // Unmounts every view (fusermount3 -u, lazily as a last resort) and
  // removes the directories.
  ~SharedDiskFixture();
  SharedDiskFixture(const SharedDiskFixture&) = delete;
  SharedDiskFixture& operator=(const SharedDiskFixture&) = delete;

  SharedDiskMode mode() const { return mode_; }
  const std::string& real_dir() const { return real_; }
  int hosts() const { return static_cast<int>(views_.size()); }
  // Host i's view of REAL.
  const std::string& host_dir(int i) const { return views_[i]; }

 private:
  SharedDiskFixture(SharedDiskMode mode, std::string root);

  SharedDiskMode mode_;
  std::string root_;
  std::string real_;
  std::vector<std::string> views_;  // mounted ones
};

}  // namespace syncstream::testing

#endif  // SYNCSTREAM_TESTING_NFS_FIXTURE_H_
