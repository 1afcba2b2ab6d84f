// What a request reserves against budgets (docs/limits.md, "What a request reserves").
#include "tollgate/spend/price_book.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace tollgate::spend {
namespace {

config::Deployment deployment(std::string model, std::optional<std::int64_t> max_output,
                              std::optional<std::int64_t> max_input) {
  config::Deployment d;
  d.model_name = "g";
  d.provider = "openai";
  d.model = std::move(model);
  d.max_output_tokens = max_output;
  d.max_input_tokens = max_input;
  return d;
}

TEST(PriceBookTest, AReservationIsCappedByTheModelsLimits) {
  config::Config c;
  c.model_list = {deployment("unknown-model-a", 1000, 8000), deployment("unknown-model-b", 4000, std::nullopt),
                  deployment("unknown-model-c", std::nullopt, std::nullopt)};
  const PriceBook book(c);
  constexpr auto kHuge = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(book.reserved_output({0}, kHuge, 10), 1000);
  EXPECT_EQ(book.reserved_output({0}, 500, 10), 500);
  EXPECT_EQ(book.reserved_output({0}, 900, 7500), 500) << "the context window less the prompt";
  EXPECT_EQ(book.reserved_output({0, 1}, kHuge, 10), 4000) << "the widest deployment of the group";
  EXPECT_EQ(book.reserved_output({0, 2}, kHuge, 10), kMaxReservedOutputTokens) << "one unbounded deployment";
  const OutputBound bound = book.output_bound({0, 1});
  EXPECT_EQ(bound.max_output, 4000);
  EXPECT_EQ(bound.context, std::nullopt);
  EXPECT_EQ(book.output_bound({0}).context, 8000);
}

TEST(PriceBookTest, WithoutMaxTokensTheReservationFollowsWhatTheGroupAnswers) {
  config::Config c;
  c.model_list = {deployment("unknown-model-a", 100'000, std::nullopt), deployment("unknown-model-b", 100'000, std::nullopt)};
  const PriceBook book(c);
  EXPECT_EQ(book.reserved_output({0, 1}, std::nullopt, 10), 2 * kInitialObservedOutputTokens);
  for (int i = 0; i < 100; ++i) book.observe_output(1, 3000);
  const std::int64_t after = book.reserved_output({0, 1}, std::nullopt, 10);
  EXPECT_GT(after, 5000);
  EXPECT_LE(after, 6000) << "twice the moving average of 3000";
  for (int i = 0; i < 100; ++i) book.observe_output(1, 10);
  EXPECT_EQ(book.reserved_output({1}, std::nullopt, 10), kMinReservedOutputTokens) << "short answers: the floor";
  EXPECT_EQ(book.reserved_output({0, 1}, std::nullopt, 10), 2 * kInitialObservedOutputTokens)
      << "the group's largest average: deployment 0 has seen nothing yet";
}

}  // namespace
}  // namespace tollgate::spend
