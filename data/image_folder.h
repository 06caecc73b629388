// Users' own images: one subfolder per label, as torchvision's ImageFolder reads them.
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace ldm::data {

// Loads dir/<label>/**/*.{png,jpg,jpeg,bmp,pgm,ppm,pnm,tga} (extensions in any case; files
// and folders starting with '.' and other files are skipped). Labels are the subfolder names
// in sorted order, numbered from 0. Colour images become grayscale (ITU-R 601 luma).
//
// Every image is resized to target_size x target_size, whatever its own size, so folders of
// mixed sizes load (non-square images are stretched, not cropped). Images more than twice the
// target are first box-averaged down by halves (see box_halve_until) so the final bilinear
// step does not alias. With target_size <= 0 images keep their size, which must then be the
// same for all of them.
//
// ldm::Error, naming the path: a missing or non-directory dir, no label subfolders (with a
// hint when images sit directly in dir), a label folder with no images, an image that cannot
// be decoded, mixed sizes with target_size <= 0.
ImageDataset load_image_folder(const std::string& dir, int64_t target_size = 32);

}  // namespace ldm::data
