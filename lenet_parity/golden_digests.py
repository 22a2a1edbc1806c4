"""The content_sha256 seals of the golden files this lenet-parity ships. Written by `make weights` and
`make phase0` (lenet_parity/golden_pins.py, ``record_shipped``): a golden file at its shipped place whose seal
is not listed here is refused, so an edit re-sealed by someone else is never believed."""

SHIPPED = {
    "_reference.json": "091205cc8e6d1ca6139b0689709082ed88c93bb6c112a0f62f721da9a359d337",
    "_train_batches.json": "dafb9d15110cec9b8800d504d6dc182cdd378493824ae102d75314ce80bdbc44",
    "lenet_seed42.json": "0ab189652abef7588b0976b2b1896f65de592f5d35944f40311e6459b0134ac2",
}
