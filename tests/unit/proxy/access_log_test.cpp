#include "tollgate/proxy/access_log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "support/temp_dir.hpp"

namespace tollgate::proxy {
namespace {

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(AccessLogTest, WritesOneJsonLinePerRecordFromEveryShard) {
  testing::TempDir dir;
  const std::string path = dir.file("access.log");
  api::Usage usage{.present = true, .prompt_tokens = 3, .completion_tokens = 4, .total_tokens = 7};
  {
    AccessLog log({.level = "info", .access_log = path}, 2);
    log.write(0, {.request_id = "r1", .method = "POST", .path = "/v1/chat/completions", .model_group = "g\"q",
                  .deployment_id = "d1", .status = 200, .stream = true, .duration_ms = 1.5, .usage = &usage});
    log.write(1, {.request_id = "r2", .method = "GET", .path = "/v1/models\x01", .status = 401,
                  .error_type = "auth_error"});
    log.flush();
    auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["request_id"], "r1");
    EXPECT_EQ(lines[0]["model_group"], "g\"q");
    EXPECT_EQ(lines[0]["stream"], true);
    EXPECT_EQ(lines[0]["total_tokens"], 7);
    EXPECT_EQ(lines[1]["path"], "/v1/models\x01");
    EXPECT_EQ(lines[1]["error"], "auth_error");
    EXPECT_FALSE(lines[1].contains("total_tokens"));
    log.write(0, {.request_id = "r3", .method = "GET", .path = "/", .status = 404});
  }
  EXPECT_EQ(read_lines(path).size(), 3u) << "destruction flushes what is buffered";
}

// What an access log sent to `destination` writes to stdout for one request, flushed and closed.
std::string stdout_of_one_request(const std::string& destination) {
  ::testing::internal::CaptureStdout();
  {
    AccessLog log({.level = "info", .access_log = destination}, 1);
    log.write(0, {.request_id = "r", .method = "GET", .path = "/", .status = 200});
    log.flush();
  }
  return ::testing::internal::GetCapturedStdout();
}

TEST(AccessLogTest, OffWritesNothing) {
  AccessLog log({.level = "info", .access_log = "off"}, 1);
  EXPECT_FALSE(log.enabled());
  log.write(0, {.request_id = "r", .method = "GET", .path = "/", .status = 200});
  log.flush();
  EXPECT_EQ(log.dropped(), 0u);
  // Off writes nothing where the log goes by default (stdout), which does see the same request.
  EXPECT_NE(stdout_of_one_request("stdout").find("\"request_id\":\"r\""), std::string::npos);
  EXPECT_EQ(stdout_of_one_request("off"), "");
}

TEST(AccessLogTest, UnwritablePathThrowsAtStartNotPerRequest) {
  EXPECT_THROW(AccessLog({.level = "info", .access_log = "/nonexistent-dir/x.log"}, 1), std::system_error);
}

}  // namespace
}  // namespace tollgate::proxy
