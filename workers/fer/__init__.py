"""The ``fer`` queue: face detection + ONNX facial-emotion classification over video ranges."""
