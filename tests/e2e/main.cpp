// Catch2 main of the end-to-end tests (ldm-train / ldm-sample run as programs).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
