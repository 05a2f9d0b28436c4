#include "gateway/minimise/category_set.h"

#include "gtest/gtest.h"

namespace sild {
namespace {

TEST(CategorySetTest, SetAlgebra) {
  CategorySet a = {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_HEALTH};
  CategorySet b = {v1::DATA_CATEGORY_HEALTH, v1::DATA_CATEGORY_EDUCATION};
  EXPECT_EQ(a & b, CategorySet{v1::DATA_CATEGORY_HEALTH});
  EXPECT_EQ((a | b).size(), 3);
  EXPECT_EQ(a - b, CategorySet{v1::DATA_CATEGORY_IDENTITY});
  EXPECT_TRUE((a & b).IsSubsetOf(a));
  EXPECT_FALSE(a.IsSubsetOf(b));
  EXPECT_TRUE(CategorySet().empty());
  EXPECT_TRUE(a.Intersects(b));
}

TEST(CategorySetTest, UnspecifiedAndUnknownNumbersAreNeverMembers) {
  CategorySet set;
  set.Add(v1::DATA_CATEGORY_UNSPECIFIED);
  set.Add(v1::DataCategory_MAX + 1);
  set.Add(-3);
  set.Add(40);
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(CategorySet::All().Contains(v1::DATA_CATEGORY_UNSPECIFIED));
  EXPECT_EQ(CategorySet::All().size(), v1::DataCategory_MAX);
  google::protobuf::RepeatedField<int> repeated;
  repeated.Add(v1::DATA_CATEGORY_HEALTH);
  repeated.Add(0);
  repeated.Add(99);
  EXPECT_EQ(CategorySet::FromRepeated(repeated),
            CategorySet{v1::DATA_CATEGORY_HEALTH});
  EXPECT_EQ(CategorySet::FromBits(0xffffffffu), CategorySet::All());
}

TEST(CategorySetTest, AlwaysPermittedIsOperationalAndProfessional) {
  EXPECT_EQ(CategorySet::AlwaysPermitted(),
            (CategorySet{v1::DATA_CATEGORY_OPERATIONAL,
                         v1::DATA_CATEGORY_PROFESSIONAL}));
}

TEST(CategorySetTest, Names) {
  CategorySet set = {v1::DATA_CATEGORY_SOCIAL_WELFARE,
                     v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_HEALTH};
  EXPECT_EQ(set.ToString(), "{IDENTITY, HEALTH, SOCIAL_WELFARE}");
  EXPECT_EQ(set.ToPhrase(), "identity, health and social welfare");
  EXPECT_EQ(CategorySet().ToPhrase(), "no categories");
  EXPECT_EQ(CategoryShortName(v1::DATA_CATEGORY_FREE_TEXT), "FREE_TEXT");
  EXPECT_EQ(set.ToVector().front(), v1::DATA_CATEGORY_IDENTITY);
}

}  // namespace
}  // namespace sild
