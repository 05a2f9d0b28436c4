#include "gateway/base/registry_code.h"

#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/testing/test_vectors.h"

namespace sild {
namespace {

TEST(RegistryCodeTest, EverySharedVectorHasItsExpectedVerdict) {
  auto rows =
      testing::ReadTsv(testing::SharedPath("testdata/registrikood.tsv"));
  ASSERT_GE(rows.size(), 5u) << "shared test vectors not found";
  for (const auto& row : rows) {
    absl::Status status = ValidateRegistryCode(row.at("code"));
    EXPECT_EQ(status.ok(), row.at("expected") == "valid")
        << row.at("code") << " (" << row.at("reason") << "): " << status;
    if (!status.ok()) {
      EXPECT_EQ(ErrorReason(status), "INVALID_REGISTRY_CODE");
    }
  }
}

TEST(RegistryCodeTest, DemoAgencyCodesAreValid) {
  for (const char* code : {"75001017", "75001023", "75001039", "75001046",
                           "75001052", "75001069", "75001075", "75001081"}) {
    EXPECT_TRUE(ValidateRegistryCode(code).ok()) << code;
  }
  EXPECT_FALSE(ValidateRegistryCode("7500101a").ok());
}

}  // namespace
}  // namespace sild
