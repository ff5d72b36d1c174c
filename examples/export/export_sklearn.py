"""Export a scikit-learn MLPRegressor for nnmax with skl2onnx (reference script).

    python export_sklearn.py            # writes sk_mlp.onnx
    pnpm nnmax maximize sk_mlp.onnx --box "-2:2,-2:2"

skl2onnx emits MatMul + Add + Relu/Tanh/Sigmoid for MLPs. Regressors with one output may have an
output without a batch axis; nnmax folds that too.
"""
import numpy as np
from sklearn.neural_network import MLPRegressor
from skl2onnx import to_onnx

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, size=(2000, 2)).astype(np.float32)
y = np.sin(X[:, 0]) * np.cos(X[:, 1])
model = MLPRegressor(hidden_layer_sizes=(32, 32), activation="relu", max_iter=500).fit(X, y)

onx = to_onnx(model, X[:1], target_opset=13)
with open("sk_mlp.onnx", "wb") as f:
    f.write(onx.SerializeToString())
print("wrote sk_mlp.onnx")
