// sildctl convert, run as the real binary.
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace sild {
namespace {

using sild::testing::BuiltBinary;
using sild::testing::ProcessResult;
using sild::testing::RunProcess;

const std::string kExamples =
    std::string(SILD_SHARED_DIR) + "/testdata/fhir-r4";
const std::string kGolden =
    std::string(SILD_SOURCE_DIR) + "/tests/connectors/codecs/fhir/golden";

ProcessResult Convert(const std::vector<std::string>& args,
                      const std::string& stdin_data = "") {
  std::vector<std::string> argv = {BuiltBinary("gateway/sildctl/sildctl"),
                                   "convert"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, absl::Seconds(30), stdin_data);
}

TEST(ConvertTest, CsvToFhirAndBack) {
  ProcessResult fhir =
      Convert({"--from", "csv-referral", "--to", "fhir-r4", "-"},
              "51205280105;PSYCHOLOGIST;75001023;Vajab tuge;k-1\n");
  ASSERT_EQ(fhir.exit_code, 0) << fhir.err;
  EXPECT_NE(fhir.out.find("\"resourceType\":\"ServiceRequest\""),
            std::string::npos)
      << fhir.out;
  ProcessResult csv =
      Convert({"--from", "fhir-r4", "--to", "csv-referral", "-"}, fhir.out);
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out, "51205280105;PSYCHOLOGIST;75001023;Vajab tuge;k-1;\n");
}

TEST(ConvertTest, FhirToCanonicalAndBack) {
  ProcessResult canonical = Convert({"--from", "fhir-r4", "--to", "canonical",
                                     kGolden + "/servicerequest-in.json"});
  ASSERT_EQ(canonical.exit_code, 0) << canonical.err;
  EXPECT_NE(canonical.out.find("\"SERVICE_TYPE_PSYCHOLOGIST\""),
            std::string::npos)
      << canonical.out;
  ProcessResult fhir =
      Convert({"--from", "canonical", "--to", "fhir-r4", "-"}, canonical.out);
  ASSERT_EQ(fhir.exit_code, 0) << fhir.err;
  EXPECT_NE(fhir.out.find("51205280105"), std::string::npos);
}

TEST(ConvertTest, DecodeErrorPrintsReasonAndFieldAndExits1) {
  ProcessResult result = Convert({"--from", "fhir-r4", "--to", "canonical",
                                  kExamples + "/servicerequest-example.json"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("MISSING_PERSONAL_CODE"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("/subject/identifier"), std::string::npos)
      << result.err;
  ProcessResult consent = Convert({"--from", "fhir-r4", "--to", "canonical",
                                   kExamples + "/consent-example.json"});
  EXPECT_EQ(consent.exit_code, 1);
  EXPECT_NE(consent.err.find("/patient/identifier"), std::string::npos)
      << consent.err;
}

TEST(ConvertTest, UsageErrorsExit2) {
  EXPECT_EQ(Convert({"--from", "fhir-r4", "x.json"}).exit_code, 2);
  EXPECT_EQ(Convert({"--from", "fhir-r4", "--to", "canonical"}).exit_code, 2);
  ProcessResult unknown =
      Convert({"--from", "hl7v2", "--to", "canonical", "x.json"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("csv-referral"), std::string::npos) << unknown.err;
}

TEST(ConvertTest, MissingFileExits1) {
  EXPECT_EQ(
      Convert({"--from", "fhir-r4", "--to", "canonical", "/nonexistent.json"})
          .exit_code,
      1);
}

}  // namespace
}  // namespace sild
