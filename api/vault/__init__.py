"""The reference document vault (``hub vault``): IHE MHD ITI-65, ITI-67, ITI-68 on its own
storage, standing in for the health space's core vault (docs/documents.md)."""
