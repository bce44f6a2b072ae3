#include "syncstream/core/scoped_redirect.h"

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "syncstream/core/testing/recording_writer.h"

namespace syncstream {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testutil::RecordingWriter;

LineWriterOptions Named(const char* name) {
  LineWriterOptions options;
  options.name = name;
  return options;
}

TEST(ScopedRedirectTest, CoutGoesToTheWriterAndComesBack) {
  std::streambuf* original = std::cout.rdbuf();
  RecordingWriter writer(Named("main"));
  {
    ScopedRedirect redirect(writer);
    EXPECT_EQ(std::cout.rdbuf(), writer.streambuf());
    EXPECT_EQ(std::cerr.rdbuf() == writer.streambuf(), false);
    std::cout << "value " << 42 << '\n' << "unfinished";
  }
  EXPECT_EQ(std::cout.rdbuf(), original);
  EXPECT_THAT(writer.LinesOf("main"), ElementsAre("value 42"));
  ASSERT_TRUE(writer.CloseAllWriters().ok());
  EXPECT_THAT(writer.LinesOf("main"), ElementsAre("value 42", "unfinished"));
}

TEST(ScopedRedirectTest, CerrAndBoth) {
  std::streambuf* original_out = std::cout.rdbuf();
  std::streambuf* original_err = std::cerr.rdbuf();
  RecordingWriter writer(Named("main"));
  {
    ScopedRedirect redirect(writer, RedirectStreams::kCerr);
    EXPECT_EQ(std::cout.rdbuf(), original_out);
    std::cerr << "to cerr\n";
  }
  {
    ScopedRedirect redirect(writer, RedirectStreams::kCoutAndCerr);
    std::cout << "out ";
    std::cerr << "and err share this thread's line\n";
  }
  EXPECT_EQ(std::cout.rdbuf(), original_out);
  EXPECT_EQ(std::cerr.rdbuf(), original_err);
  EXPECT_THAT(writer.LinesOf("main"),
              ElementsAre("to cerr", "out and err share this thread's line"));
}

TEST(ScopedRedirectTest, NestedRedirectsRestoreInTurn) {
  std::streambuf* original = std::cout.rdbuf();
  RecordingWriter outer(Named("outer"));
  RecordingWriter inner(Named("inner"));
  {
    ScopedRedirect first(outer);
    std::cout << "a\n";
    {
      ScopedRedirect second(inner);
      std::cout << "b\n";
    }
    EXPECT_EQ(std::cout.rdbuf(), outer.streambuf());
    std::cout << "c\n";
  }
  EXPECT_EQ(std::cout.rdbuf(), original);
  EXPECT_THAT(outer.LinesOf("outer"), ElementsAre("a", "c"));
  EXPECT_THAT(inner.LinesOf("inner"), ElementsAre("b"));
}

TEST(ScopedRedirectTest, RestoresAStreamThatHadNoBuffer) {
  std::streambuf* original = std::cout.rdbuf(nullptr);
  RecordingWriter writer;
  {
    ScopedRedirect redirect(writer);
    std::cout << "x\n";
  }
  EXPECT_EQ(std::cout.rdbuf(), nullptr);
  std::cout.rdbuf(original);
  EXPECT_THAT(writer.LinesOf("writer"), ElementsAre("x"));
}

TEST(ScopedRedirectTest, ManyThreadsWritingCoutNeverMixLines) {
  const int kThreads = 4;
  const int kLines = 2000;
  RecordingWriter writer(Named("t"));
  {
    ScopedRedirect redirect(writer);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < kLines; ++i) {
          std::cout << "thread " << t << " says " << i << " " << t * i << '\n';
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const Record& r : records) {
    int t = -1, i = -1, product = -1;
    ASSERT_EQ(std::sscanf(r.text.c_str(), "thread %d says %d %d", &t, &i,
                          &product),
              3)
        << r.text;
    ASSERT_TRUE(t >= 0 && t < kThreads);
    ASSERT_EQ(r.text, "thread " + std::to_string(t) + " says " +
                          std::to_string(i) + " " + std::to_string(t * i));
    ASSERT_EQ(i, next[t]++);
  }
  EXPECT_THAT(writer.PendingLines(), IsEmpty());
}

}  // namespace
}  // namespace syncstream
