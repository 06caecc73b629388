// Helpers shared by the tools tests.
#pragma once

#include <catch2/catch.hpp>

#include "core/check.h"

// An ldm::Error (not just any exception) whose message contains `text`.
#define CHECK_LDM_ERROR(expr, text)                           \
  do {                                                        \
    CHECK_THROWS_AS(expr, ldm::Error);                        \
    CHECK_THROWS_WITH(expr, Catch::Matchers::Contains(text)); \
  } while (0)
