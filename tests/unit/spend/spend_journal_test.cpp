#include "spend/spend_journal.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <spdlog/logger.h>

#include "support/temp_dir.hpp"

namespace tollgate::spend {
namespace {

SpendEvent event(const std::string& id) {
  SpendEvent e;
  e.request_id = id;
  e.call_type = "acompletion";
  e.api_key = "abc";
  e.spend = 0.1 + 0.2;
  e.counterfactual_spend = 1e-12;
  e.prompt_tokens = 7;
  e.completion_tokens = 3;
  e.total_tokens = 10;
  e.cache_read_input_tokens = 2;
  e.cache_creation_input_tokens = 1;
  e.start_ms = 1'700'000'000'123;
  e.end_ms = e.start_ms + 5;
  e.completion_start_ms = e.start_ms + 2;
  e.model = "gpt-4o";
  e.model_id = "d1";
  e.model_group = "smart";
  e.custom_llm_provider = "openai";
  e.api_base = "https://api.openai.com/v1";
  e.user = "u";
  e.team_id = "t";
  e.organization_id = "o";
  e.end_user = "c";
  e.metadata = R"({"k":[1,2]})";
  e.cache_hit = true;
  e.request_tags = {"x"};
  e.status = "failure";
  e.messages = "[{\"role\":\"user\"}]\n";
  e.response = "ok";
  e.deltas = {{.entity = auth::Entity::kTeam, .id = "t", .amount = 0.3, .window_ms = 99, .model = ""},
              {.entity = auth::Entity::kKey, .id = "abc", .amount = 0.3, .window_ms = 0, .model = "smart"}};
  return e;
}

TEST(SpendJournal, EncodeDecodeRoundTripsEveryField) {
  const SpendEvent in = event("r1");
  const std::string line = SpendJournal::encode(in);
  EXPECT_EQ(line.find('\n'), std::string::npos);  // one line, even with a newline in a field
  SpendEvent out;
  ASSERT_TRUE(SpendJournal::decode(line, out));
  EXPECT_EQ(SpendJournal::encode(out), line);
  EXPECT_EQ(out.spend, in.spend);  // doubles survive exactly
  EXPECT_EQ(out.counterfactual_spend, in.counterfactual_spend);
  ASSERT_EQ(out.deltas.size(), 2u);
  EXPECT_EQ(out.deltas[1].entity, auth::Entity::kKey);
  EXPECT_EQ(out.deltas[1].model, "smart");
  EXPECT_EQ(out.deltas[0].window_ms, 99);
}

TEST(SpendJournal, DecodeRejectsWhatItDidNotWrite) {
  for (const char* line : {"{\"request_id\": \"r1\", \"spe",  // torn
                           "[]",
                           "{\"spend\": 1}",  // no request id
                           "{\"request_id\": \"r\", \"spend\": \"one\"}",
                           "{\"request_id\": \"r\", \"deltas\": [{\"entity\": 42, \"id\": \"x\", \"amount\": 1, "
                           "\"window_ms\": 0}]}"}) {
    SpendEvent e;
    EXPECT_FALSE(SpendJournal::decode(line, e)) << line;
  }
}

TEST(SpendJournal, SegmentsRotateAreReadBackAndSurviveARestartUntilRemoved) {
  testing::TempDir dir("spend-journal");
  spdlog::logger log("journal-test");  // no sinks: silent
  const std::string path = dir.file("j");
  std::uint64_t first = 0;
  {
    SpendJournal journal(path, log);
    EXPECT_TRUE(journal.leftover().empty());
    bool ok = false;
    first = journal.append(SpendJournal::encode(event("a")) + "\n", ok);
    EXPECT_TRUE(ok);
    journal.append(SpendJournal::encode(event("b")) + "\n", ok);
    EXPECT_EQ(journal.rotate(), first);
    const std::uint64_t second = journal.append(SpendJournal::encode(event("c")) + "\n", ok);
    EXPECT_GT(second, first);
    journal.sync();
    std::size_t skipped = 0;
    const auto events = journal.read(first, skipped);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].request_id, "b");
    EXPECT_EQ(skipped, 0u);
  }
  // A torn last line, as a crash in the middle of a write would leave it.
  {
    std::ofstream torn(path + "/spend-" + std::string(10 - std::to_string(first).size(), '0') + std::to_string(first) +
                           ".ndjson",
                       std::ios::app);
    torn << "{\"request_id\": \"d\", \"sp";
  }
  SpendJournal again(path, log);
  ASSERT_EQ(again.leftover().size(), 2u);
  std::size_t skipped = 0;
  EXPECT_EQ(again.read(again.leftover()[0], skipped).size(), 2u);
  EXPECT_EQ(skipped, 1u);
  again.remove(again.leftover()[0]);
  again.quarantine(again.leftover()[1]);
  SpendJournal third(path, log);
  // The removed segment is gone, the quarantined one renamed (no longer replayed); `again`'s own
  // (empty) segment remains.
  ASSERT_EQ(third.leftover().size(), 1u);
  EXPECT_GT(third.leftover()[0], again.leftover()[1]);
  EXPECT_TRUE(std::filesystem::exists(path + "/spend-" + std::string(10 - std::to_string(again.leftover()[1]).size(), '0') +
                                      std::to_string(again.leftover()[1]) + ".rejected"));
}

TEST(SpendJournal, DisabledJournalKeepsNothing) {
  spdlog::logger log("journal-test");
  SpendJournal journal("", log);
  bool ok = false;
  EXPECT_EQ(journal.append(SpendJournal::encode(event("a")) + "\n", ok), 0u);
  EXPECT_TRUE(ok);
  EXPECT_FALSE(journal.enabled());
}

}  // namespace
}  // namespace tollgate::spend
