"""Export a Keras model for nnmax with tf2onnx (reference script; needs tensorflow and tf2onnx).

    python export_keras.py              # writes keras_mlp.onnx
    pnpm nnmax info keras_mlp.onnx
    pnpm nnmax maximize keras_mlp.onnx --objective "y1 - y0" --box "0:1,0:1,0:1"

tf2onnx keeps Keras' symbolic batch axis (`None`), which is what nnmax wants. Dense layers
become MatMul + Add; activations become their ONNX ops (Relu, Sigmoid, Tanh, Softplus, Elu,
LeakyRelu); `keras.activations.gelu` becomes the Erf pattern or the opset-20 Gelu op, and
`swish` becomes Sigmoid times x (SiLU). Branches that are added back (a DAG) are fine.
"""
import tensorflow as tf
import tf2onnx

inputs = tf.keras.Input(shape=(3,), name="x")
h = tf.keras.layers.Dense(16, activation="relu")(inputs)
skip = tf.keras.layers.Dense(16)(inputs)
h = tf.keras.layers.Add()([h, skip])
h = tf.keras.layers.Dense(16, activation="swish")(h)
outputs = tf.keras.layers.Dense(2, name="y")(h)
model = tf.keras.Model(inputs, outputs)

spec = (tf.TensorSpec((None, 3), tf.float32, name="x"),)
tf2onnx.convert.from_keras(model, input_signature=spec, opset=13, output_path="keras_mlp.onnx")
print("wrote keras_mlp.onnx")
