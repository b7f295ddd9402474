// The convolution layers the benchmarks measure, CPU (conv_bench) and GPU
// (gpu_conv_bench) alike: every conv layer of LeNet-5 and both AlexNets,
// VGG-16's distinct 3x3 layers, ResNet-18/50's distinct 3x3, 1x1 and stem
// layers, and GoogLeNet's 5x5 layers, with input channels and size as each
// layer sees them.
#ifndef CONVD_BENCH_CONV_LAYERS_H_
#define CONVD_BENCH_CONV_LAYERS_H_

#include "kernels/op_params.h"

namespace convd::bench {

struct ConvLayer {
  const char* name;
  int c, h, w, k, r, stride, pad, groups;
};

inline constexpr ConvLayer kConvLayers[] = {
    {"lenet5.conv1", 1, 28, 28, 6, 5, 1, 2, 1},
    {"lenet5.conv2", 6, 14, 14, 16, 5, 1, 0, 1},
    {"alexnet.conv1", 3, 224, 224, 64, 11, 4, 2, 1},
    {"alexnet.conv2", 64, 27, 27, 192, 5, 1, 2, 1},
    {"alexnet.conv3", 192, 13, 13, 384, 3, 1, 1, 1},
    {"alexnet.conv4", 384, 13, 13, 256, 3, 1, 1, 1},
    {"alexnet.conv5", 256, 13, 13, 256, 3, 1, 1, 1},
    {"alexnet_orig.conv1", 3, 227, 227, 96, 11, 4, 0, 1},
    {"alexnet_orig.conv2", 96, 27, 27, 256, 5, 1, 2, 2},
    {"alexnet_orig.conv3", 256, 13, 13, 384, 3, 1, 1, 1},
    {"alexnet_orig.conv4", 384, 13, 13, 384, 3, 1, 1, 2},
    {"alexnet_orig.conv5", 384, 13, 13, 256, 3, 1, 1, 2},
    {"vgg16.conv1_1", 3, 224, 224, 64, 3, 1, 1, 1},
    {"vgg16.conv1_2", 64, 224, 224, 64, 3, 1, 1, 1},
    {"vgg16.conv2_1", 64, 112, 112, 128, 3, 1, 1, 1},
    {"vgg16.conv2_2", 128, 112, 112, 128, 3, 1, 1, 1},
    {"vgg16.conv3_1", 128, 56, 56, 256, 3, 1, 1, 1},
    {"vgg16.conv3_2/3", 256, 56, 56, 256, 3, 1, 1, 1},
    {"vgg16.conv4_1", 256, 28, 28, 512, 3, 1, 1, 1},
    {"vgg16.conv4_2/3", 512, 28, 28, 512, 3, 1, 1, 1},
    {"vgg16.conv5_x", 512, 14, 14, 512, 3, 1, 1, 1},
    // ResNet-18/50 (torchvision's v1.5: the stride sits on the 3x3 layer).
    {"resnet.conv1_7x7s2", 3, 224, 224, 64, 7, 2, 3, 1},
    {"resnet.l1_3x3", 64, 56, 56, 64, 3, 1, 1, 1},
    {"resnet.l2_3x3s2", 64, 56, 56, 128, 3, 2, 1, 1},
    {"resnet.l2_3x3", 128, 28, 28, 128, 3, 1, 1, 1},
    {"resnet.l3_3x3", 256, 14, 14, 256, 3, 1, 1, 1},
    {"resnet.l4_3x3", 512, 7, 7, 512, 3, 1, 1, 1},
    {"resnet.l2_down_1x1s2", 64, 56, 56, 128, 1, 2, 0, 1},
    {"resnet50.l1_1x1_64_64", 64, 56, 56, 64, 1, 1, 0, 1},
    {"resnet50.l1_1x1_64_256", 64, 56, 56, 256, 1, 1, 0, 1},
    {"resnet50.l1_1x1_256_64", 256, 56, 56, 64, 1, 1, 0, 1},
    {"resnet50.l2_1x1_512_128", 512, 28, 28, 128, 1, 1, 0, 1},
    {"resnet50.l3_1x1_256_1024", 256, 14, 14, 1024, 1, 1, 0, 1},
    {"resnet50.l3_1x1_1024_256", 1024, 14, 14, 256, 1, 1, 0, 1},
    {"resnet50.l4_1x1_2048_512", 2048, 7, 7, 512, 1, 1, 0, 1},
    // GoogLeNet's inception 5x5 branches (after their 1x1 reductions).
    {"googlenet.3b_5x5", 32, 28, 28, 96, 5, 1, 2, 1},
    {"googlenet.4a_5x5", 16, 14, 14, 48, 5, 1, 2, 1},
    {"googlenet.5b_5x5", 48, 7, 7, 128, 5, 1, 2, 1},
};

// The layer at `batch`; p and q are left for ComputeConvOutput.
inline ConvParams ToConvParams(const ConvLayer& layer, int batch) {
  ConvParams p;
  p.n = batch, p.c = layer.c, p.h = layer.h, p.w = layer.w, p.k = layer.k;
  p.r = p.s = layer.r, p.stride_h = p.stride_w = layer.stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = layer.pad;
  p.groups = layer.groups;
  return p;
}

}  // namespace convd::bench

#endif  // CONVD_BENCH_CONV_LAYERS_H_
