#include "tollgate/api/json_read.hpp"

#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tollgate::api {
namespace {

// A SAX handler that builds the DOM itself (nlohmann's builder keeps its stack private, and we
// need the open object to detect a duplicate key). `stack_` holds the open containers; a pointer
// to a container stays valid while it is open because its parent is not touched until it closes.
template <class Json>
class BoundedBuilder {
 public:
  using number_integer_t = typename Json::number_integer_t;
  using number_unsigned_t = typename Json::number_unsigned_t;
  using number_float_t = typename Json::number_float_t;
  using string_t = typename Json::string_t;
  using binary_t = typename Json::binary_t;

  BoundedBuilder(Json& root, const JsonReadOptions& options, JsonReadError& error)
      : root_(root), options_(options), error_(error) {}

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(number_integer_t v) { return put(v); }
  bool number_unsigned(number_unsigned_t v) { return put(v); }
  bool number_float(number_float_t v, const string_t&) { return put(v); }
  bool string(string_t& v) { return put(std::move(v)); }
  bool binary(binary_t& v) { return put(Json::binary(std::move(v))); }

  bool start_object(std::size_t) { return open(Json::object()); }
  bool start_array(std::size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(string_t& k) {
    if (stack_.size() == 1) member_ = k;
    auto& object = stack_.back()->template get_ref<typename Json::object_t&>();
    bool inserted = false;
    if constexpr (kOrdered) {
      // ordered_map::emplace searches linearly: quadratic for a hostile 100,000-member object.
      // Past a few members, a hash set of the names decides, and the member is appended.
      auto& seen = seen_[stack_.size() - 1];
      if (!seen && object.size() >= kLinearMembers) {
        seen = std::make_unique<std::unordered_set<string_t>>();
        for (const auto& member : object) seen->insert(member.first);
      }
      if (seen) {
        inserted = seen->insert(k).second;
        if (inserted) {
          static_cast<typename Json::object_t::Container&>(object).emplace_back(k, nullptr);
          slot_ = &object.back().second;
        } else {
          slot_ = &object.find(k)->second;
        }
      } else {
        auto [it, added] = object.emplace(k, nullptr);
        inserted = added;
        slot_ = &it->second;
      }
    } else {
      auto [it, added] = object.emplace(k, nullptr);
      inserted = added;
      slot_ = &it->second;
    }
    if (!inserted && options_.reject_duplicates) {
      error_.duplicate = k;
      return fail("duplicate member name");
    }
    return true;
  }

  template <class Exception>
  bool parse_error(std::size_t position, const std::string&, const Exception& e) {
    error_.offset = position;
    if (error_.what.empty()) error_.what = e.what();
    error_.member = member_;
    return false;
  }

  bool failed() const { return failed_; }

 private:
  bool fail(std::string what) {
    failed_ = true;
    error_.what = std::move(what);
    error_.member = member_;
    return false;
  }

  // Places a value where the parser is: the root, the next array element, or the member whose key
  // was just read. Returns the placed value.
  template <class V>
  Json* place(V&& v) {
    if (stack_.empty()) {
      root_ = Json(std::forward<V>(v));
      return &root_;
    }
    Json& top = *stack_.back();
    if (top.is_array()) {
      auto& array = top.template get_ref<typename Json::array_t&>();
      array.emplace_back(std::forward<V>(v));
      return &array.back();
    }
    *slot_ = Json(std::forward<V>(v));
    return slot_;
  }

  template <class V>
  bool put(V&& v) {
    place(std::forward<V>(v));
    return true;
  }

  bool open(Json container) {
    if (static_cast<int>(stack_.size()) >= options_.max_depth) return fail("nesting too deep");
    stack_.push_back(place(std::move(container)));
    if constexpr (kOrdered) seen_.emplace_back();
    return true;
  }

  bool close() {
    stack_.pop_back();
    if constexpr (kOrdered) seen_.pop_back();
    if (stack_.empty()) member_.clear();
    return true;
  }

  static constexpr bool kOrdered = std::is_same_v<Json, nlohmann::ordered_json>;
  static constexpr std::size_t kLinearMembers = 16;

  Json& root_;
  const JsonReadOptions& options_;
  // Ordered objects only: per open container, the names of a large object (null until needed).
  std::vector<std::unique_ptr<std::unordered_set<string_t>>> seen_;
  JsonReadError& error_;
  std::vector<Json*> stack_;
  Json* slot_ = nullptr;
  std::string member_;
  bool failed_ = false;
};

template <class Json>
Json read(std::string_view text, JsonReadError* error, const JsonReadOptions& options) {
  JsonReadError local;
  JsonReadError& err = error ? *error : local;
  // nlohmann's lexer takes a NUL byte for the end of input; JSON text never holds a raw NUL, and
  // what follows one must not be ignored silently (the request scanner refuses it too).
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    err.offset = nul;
    err.what = "NUL byte in JSON text";
    return Json(Json::value_t::discarded);
  }
  Json root;
  BoundedBuilder<Json> builder(root, options, err);
  // strict: one value and nothing after it; no comments.
  const bool ok = Json::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json,
                                  /*strict=*/true, /*ignore_comments=*/false);
  if (!ok || builder.failed()) {
    if (err.what.empty()) err.what = "invalid JSON";
    return Json(Json::value_t::discarded);
  }
  return root;
}

}  // namespace

ApiError invalid_body_error(const JsonReadError& e) {
  if (!e.duplicate.empty()) {
    std::string message = "Duplicate member '" + e.duplicate + "'";
    if (!e.member.empty() && e.member != e.duplicate) message += " inside '" + e.member + "'";
    message += " in the request body: each name may appear only once.";
    return make_error(Errc::kInvalidRequest, std::move(message), e.member.empty() ? e.duplicate : e.member);
  }
  std::string message = "Invalid JSON in request body at byte " + std::to_string(e.offset) + ": " + e.what;
  if (!e.member.empty()) message += " (in '" + e.member + "')";
  std::optional<std::string> param;
  if (!e.member.empty()) param = e.member;
  return make_error(Errc::kInvalidJson, std::move(message) + ".", std::move(param));
}

nlohmann::json read_json(std::string_view text, JsonReadError* error, JsonReadOptions options) {
  return read<nlohmann::json>(text, error, options);
}

nlohmann::ordered_json read_ordered_json(std::string_view text, JsonReadError* error, JsonReadOptions options) {
  return read<nlohmann::ordered_json>(text, error, options);
}

}  // namespace tollgate::api
