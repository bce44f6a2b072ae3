#include "syncstream/core/posix_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace syncstream {
namespace {

class PosixIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
            "/posix_io_XXXXXX";
    fd_ = mkstemp(path_.data());
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    close(fd_);
    unlink(path_.c_str());
  }
  std::string path_;
  int fd_ = -1;
};

TEST_F(PosixIoTest, WritesAndReadsWholeContents) {
  const std::string big(300'000, 'x');  // more than one read's buffer
  ASSERT_TRUE(WriteAll(fd_, "head ", "file").ok());
  ASSERT_TRUE(WriteAll(fd_, big, "file").ok());
  ASSERT_TRUE(WriteAllAt(fd_, "HEAD", 0, "file").ok());
  ASSERT_EQ(lseek(fd_, 0, SEEK_SET), 0);
  absl::StatusOr<std::string> read = ReadAll(fd_, "file");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "HEAD " + big);
}

TEST_F(PosixIoTest, ErrorsNameTheObjectTheOperationAndMapErrno) {
  const int read_only = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(read_only, 0);
  absl::Status written = WriteAll(read_only, "x", "store '/x'");
  close(read_only);
  EXPECT_TRUE(absl::IsFailedPrecondition(written)) << written;  // EBADF
  EXPECT_NE(written.message().find("store '/x': write: "), std::string::npos)
      << written;
  EXPECT_TRUE(absl::IsNotFound(ErrnoStatus(ENOENT, "segment 'a'", "open")));
  EXPECT_TRUE(
      absl::IsPermissionDenied(ErrnoStatus(EACCES, "segment 'a'", "open")));
  EXPECT_FALSE(ReadAll(-1, "fd -1").ok());
}

}  // namespace
}  // namespace syncstream
