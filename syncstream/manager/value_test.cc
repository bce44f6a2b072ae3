#include "syncstream/manager/value.h"

#include "gtest/gtest.h"

namespace syncstream::manager {
namespace {

TEST(ValueTest, RoundTripsEveryKind) {
  Value v(ValueList{Value(), Value(true), Value(int64_t{-7}), Value(2.5),
                    Value("text"), Value(Bytes{std::string("\0\1", 2)}),
                    Value(ValueDict{{"k", Value(ValueList{Value(1)})}}),
                    Value(ObjectRef{9, "list", nullptr})});
  proto::Value wire;
  ToProto(v, &wire);
  absl::StatusOr<Value> back = FromProto(wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, v);
  EXPECT_EQ(back->as_list()[7].as_ref().type, "list");
  EXPECT_EQ(v.DebugString(),
            "[None, True, -7, 2.5, 'text', b'\\x00\\x01', {'k': [1]}, "
            "<list #9>]");
}

TEST(ValueTest, IntNeverEqualsDouble) {
  EXPECT_NE(Value(1), Value(1.0));
  EXPECT_EQ(Value("a"), Value(std::string("a")));
}

TEST(ValueTest, RejectsTooDeepAndDuplicateKeys) {
  proto::Value deep;
  proto::Value* at = &deep;
  for (int i = 0; i < kMaxValueDepth + 2; ++i) {
    at = at->mutable_list_value()->add_items();
  }
  at->set_int_value(1);
  EXPECT_EQ(FromProto(deep).status().code(),
            absl::StatusCode::kInvalidArgument);

  proto::Value dict;
  for (int i = 0; i < 2; ++i) {
    proto::DictEntry* e = dict.mutable_dict_value()->add_entries();
    e->set_key("same");
    e->mutable_value()->set_int_value(i);
  }
  absl::Status s = FromProto(dict).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("duplicate key 'same'"), absl::string_view::npos);
}

TEST(ValueTest, CheckedAccessorsNameTheValue) {
  absl::Status s = Value("x").GetInt("index").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "index: expected int, got string 'x'");
}

}  // namespace
}  // namespace syncstream::manager
