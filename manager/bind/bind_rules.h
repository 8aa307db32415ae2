// MatchBindRules: whether one driver's bind rules accept a node, and if not,
// which rule said no.
#pragma once

#include <string>

#include <google/protobuf/repeated_ptr_field.h>

#include "trellis/manifest/v1/manifest.pb.h"
#include "trellis/node/v1/node.pb.h"

namespace trellis::manager {

// A node's properties, as stored on the node and sent over NodeChannel.
using Properties = google::protobuf::RepeatedPtrField<node::v1::NodeProperty>;

struct RuleCheck {
  bool matched;
  // Empty when matched; otherwise names the first failing rule, e.g.
  //   "accept rule 'virtio.device_id': node has no such property"
  //   "accept rule 'virtio.device_id': node has 3, wants one of [2, 4]"
  //   "reject rule 'trellis.test': matched \"yes\""
  std::string reason;
};

// Matches `rules` against a node's `properties`. The node matches when every
// accept rule matches and no reject rule does; an empty accept list matches
// every node. A rule matches when the node has a property with the rule's key
// and either the rule has no values (presence is enough) or the property's
// value equals one of them with the same type: int to int, string to string
// (exact, case-sensitive), bool to bool — "3" never equals 3. Values with no
// oneof set never match. Rules are checked in order, accept before reject,
// and the reason names the first that fails. Pure; thread-safe.
RuleCheck MatchBindRules(const manifest::v1::BindRules& rules, const Properties& properties);

}  // namespace trellis::manager
