"""Export a PyTorch model for nnmax (reference script; needs torch, which this repo does not install).

    python export_pytorch.py            # writes mlp.onnx
    pnpm nnmax info mlp.onnx
    pnpm nnmax maximize mlp.onnx --output 0 --box "-1:1,-1:1,-1:1,-1:1"

nnmax evaluates many points per onnxruntime call, so give the input a dynamic batch axis
(`dynamic_axes`). A fixed batch of 1 also works: nnmax re-emits the graph with a batch axis
when every op is in its IR, and runs the original graph one point at a time otherwise.
"""
import torch
from torch import nn

model = nn.Sequential(
    nn.Linear(4, 32),
    nn.ReLU(),          # also supported: LeakyReLU, Sigmoid, Tanh, Softplus, ELU, SiLU, GELU
    nn.Linear(32, 32),
    nn.Tanh(),
    nn.Linear(32, 2),
)
model.eval()  # BatchNorm folds into the affine layers only in inference mode

example = torch.zeros(1, 4)
torch.onnx.export(
    model,
    example,
    "mlp.onnx",
    input_names=["x"],
    output_names=["y"],
    dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
    opset_version=17,
    do_constant_folding=True,  # folds Constant/Shape chains into initializers
)
print("wrote mlp.onnx")
