// trellis_manifest: loading and validating the hand-written JSON the manager
// starts from. Table of contents:
//
//   json_proto.h       ParseJsonMessage, ReadManifestFile — strict JSON → proto
//   driver_manifest.h  LoadDriverManifest, ParseDriverManifest,
//                      ValidateDriverManifest — one driver manifest
//   driver_index.h     LoadDriverDirectories — every manifest of the board's
//                      driver directories; bad ones are skipped and reported
//   board.h            LoadBoard, ParseBoard — the board file
//   board_backends.h   ResolveBoardBackends — the board's backend processes,
//                      resolved against the manager's state directory
//
// Every error reads "<file>: field '<dotted.field>': <reason>" (or
// "<file>: <reason>" for whole-file problems).
#pragma once

#include "manager/manifest/board.h"
#include "manager/manifest/board_backends.h"
#include "manager/manifest/driver_index.h"
#include "manager/manifest/driver_manifest.h"
#include "manager/manifest/json_proto.h"
