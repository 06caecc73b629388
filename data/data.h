// Everything data/ offers in one include: datasets (MedMNIST .npz, image folders), transforms,
// batching and the PNG/GIF writers.
#pragma once

#include "data/atomic_file.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "data/image_folder.h"
#include "data/image_io.h"
#include "data/medmnist.h"
#include "data/npy.h"
#include "data/transforms.h"
