// Small helpers shared by the store tests.
#ifndef SILD_TESTS_GATEWAY_STORE_STORE_TEST_UTIL_H_
#define SILD_TESTS_GATEWAY_STORE_STORE_TEST_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gateway/base/errors.h"
#include "gateway/store/sql.h"
#include "gtest/gtest.h"

namespace sild::testing {

// Passes when `status` has `code` and the stable reason code `reason`.
inline ::testing::AssertionResult HasError(const absl::Status& status,
                                           absl::StatusCode code,
                                           absl::string_view reason) {
  if (status.code() == code && ErrorReason(status) == reason) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected " << absl::StatusCodeToString(code) << " " << reason
         << ", got " << status << " (reason \"" << ErrorReason(status) << "\")";
}

// The single integer a query returns (-1 and a test failure otherwise).
inline int64_t QueryInt(SqlConnection& sql, absl::string_view query,
                        const std::vector<SqlValue>& params = {}) {
  auto rows = sql.Query(query, params);
  EXPECT_TRUE(rows.ok()) << rows.status();
  if (!rows.ok() || rows->size() != 1 || (*rows)[0].size() != 1) {
    ADD_FAILURE() << query << ": expected one value";
    return -1;
  }
  return (*rows)[0].Int(0);
}

}  // namespace sild::testing

#endif  // SILD_TESTS_GATEWAY_STORE_STORE_TEST_UTIL_H_
