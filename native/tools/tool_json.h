// The body of a JSON object built member by member ("key":value pairs joined
// by commas), for the traffic tools' one-line reports: the maps they print
// (errors by errno, datagrams by source, TTL, stream, corruption reason)
// grow with what happened, so they cannot be one printf format. Keys are
// written as given: errno and reason names, numbers and addresses, none of
// which needs escaping.
#pragma once

#include <string>

class JsonMembers {
 public:
  // `value` is JSON already: a number, null, or an object's text.
  void add(const std::string& key, const std::string& value) {
    if (!body_.empty()) body_ += ',';
    body_ += '"';
    body_ += key;
    body_ += "\":";
    body_ += value;
  }
  // Without the braces, which the report's format string holds.
  const std::string& body() const { return body_; }

 private:
  std::string body_;
};
