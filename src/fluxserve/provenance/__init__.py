"""C2PA content credentials: every output image carries a signed manifest saying that
fluxserve made it with a trained model, which model and weights, and for which request.

Signing happens once, where outputs are encoded (`storage/encode.py`); this package knows
nothing of jobs or HTTP. Only it imports `c2pa` and `cryptography`."""
