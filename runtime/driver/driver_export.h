// TRELLIS_DRIVER_EXPORT(MyDriver): the one macro a driver library uses.
//
// It defines the library's single exported symbol, `trellis_driver_export`, a
// C struct whose first field is the ABI version. The host checks the version
// before it touches anything else, so a driver built against another SDK is
// refused with a clear error instead of crashing.
#pragma once

#include <cstdint>
#include <new>
#include <type_traits>

#include "runtime/driver/driver.h"

// 2: Driver::PrepareStop, DriverHostApi::HandOffWakeLease.
#define TRELLIS_DRIVER_ABI_VERSION 2u

extern "C" {
struct TrellisDriverExport {
  uint32_t abi_version;  // TRELLIS_DRIVER_ABI_VERSION
  uint32_t struct_size;  // sizeof(TrellisDriverExport)
  const char* driver_type;
  // Constructs the driver; null if construction failed.
  trellis::Driver* (*create)(trellis::DriverHostApi* api);
  void (*destroy)(trellis::Driver* driver);
};
}

#define TRELLIS_DRIVER_EXPORT_SYMBOL "trellis_driver_export"

#define TRELLIS_DRIVER_EXPORT(DriverType)                                              \
  static_assert(std::is_base_of_v<::trellis::Driver, DriverType>,                      \
                "TRELLIS_DRIVER_EXPORT(" #DriverType "): the type must derive from "  \
                "trellis::Driver");                                                    \
  static_assert(std::is_constructible_v<DriverType, ::trellis::DriverContext>,         \
                "TRELLIS_DRIVER_EXPORT(" #DriverType "): the type needs a constructor " \
                "taking trellis::DriverContext");                                      \
  extern "C" __attribute__((visibility("default"))) const TrellisDriverExport          \
      trellis_driver_export = {                                                        \
          TRELLIS_DRIVER_ABI_VERSION,                                                  \
          sizeof(TrellisDriverExport),                                                 \
          #DriverType,                                                                 \
          [](::trellis::DriverHostApi* api) -> ::trellis::Driver* {                    \
            return new (std::nothrow) DriverType(::trellis::DriverContext(api));       \
          },                                                                           \
          [](::trellis::Driver* driver) { delete driver; },                            \
  }
