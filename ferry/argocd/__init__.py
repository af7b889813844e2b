"""Argo CD ``Application`` manifests and Image Updater annotations, as typed, validated models."""
