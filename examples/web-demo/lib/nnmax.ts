/** The `<script type="module">` library bundle: nnmax's web entry, onnxruntime-web (wasm) included. */
export * from 'nnmax/web';
