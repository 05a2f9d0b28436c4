#include "gateway/base/personal_code.h"

#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/testing/test_vectors.h"

namespace sild {
namespace {

TEST(PersonalCodeTest, EverySharedVectorHasItsExpectedVerdict) {
  auto rows = testing::ReadTsv(testing::SharedPath("testdata/isikukood.tsv"));
  ASSERT_GE(rows.size(), 10u) << "shared test vectors not found";
  for (const auto& row : rows) {
    const std::string& code = row.at("code");
    bool expect_valid = row.at("expected") == "valid";
    absl::StatusOr<PersonalCode> parsed = ParsePersonalCode(code);
    EXPECT_EQ(parsed.ok(), expect_valid)
        << code << " (" << row.at("reason") << "): " << parsed.status();
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(ErrorReason(parsed.status()), "INVALID_PERSONAL_CODE");
      EXPECT_EQ(ErrorField(parsed.status()), "personal_code");
    }
  }
}

TEST(PersonalCodeTest, DecodesCenturySexAndDate) {
  auto code = ParsePersonalCode("51205280105");
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->birth_date, absl::CivilDay(2012, 5, 28));
  EXPECT_EQ(code->sex, Sex::kMale);
  auto old = ParsePersonalCode("16805280107");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->birth_date.year(), 1868);
  auto female = ParsePersonalCode("46805280103");
  ASSERT_TRUE(female.ok());
  EXPECT_EQ(female->sex, Sex::kFemale);
}

TEST(PersonalCodeTest, ErrorsSayWhichRuleFailed) {
  auto bad_check = ParsePersonalCode("36805280108", "subject.id.value");
  ASSERT_FALSE(bad_check.ok());
  EXPECT_EQ(ErrorField(bad_check.status()), "subject.id.value");
  EXPECT_NE(bad_check.status().message().find("check digit"),
            absl::string_view::npos);
  // The valid code differs only in the last digit (36805280109): the error
  // does not tell it, so it cannot complete a guessed code.
  EXPECT_EQ(bad_check.status().message().find('9'), absl::string_view::npos)
      << bad_check.status().message();
  auto bad_date = ParsePersonalCode("38102290106");
  ASSERT_FALSE(bad_date.ok());
  EXPECT_NE(bad_date.status().message().find("does not exist"),
            absl::string_view::npos);
  EXPECT_FALSE(ParsePersonalCode("").ok());
}

TEST(PersonalCodeTest, AgeCountsFullYears) {
  auto code = ParsePersonalCode("51205280105");  // born 2012-05-28
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(AgeOn(*code, absl::CivilDay(2026, 5, 27)), 13);
  EXPECT_EQ(AgeOn(*code, absl::CivilDay(2026, 5, 28)), 14);
}

}  // namespace
}  // namespace sild
