// The one translation unit holding stb_image and stb_image_write's implementations. Built with
// warnings off (-w, data/CMakeLists.txt): this is third-party code we do not edit.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_LINEAR  // no float (HDR) paths: every loader here wants 8-bit pixels
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG  // readable messages ("bad PNG sig"), not codes
#include <stb/stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
