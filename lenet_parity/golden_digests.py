"""The content_sha256 seals of the golden files this lenet-parity ships. Written by `make weights` and
`make phase0` (lenet_parity/golden_pins.py, ``record_shipped``): a golden file at its shipped place whose seal
is not listed here is refused, so an edit re-sealed by someone else is never believed."""

SHIPPED = {
    "_reference.json": "a2b4526407676b52578fbdd32757f32ab88d32c483aa49694f4d4f842e1f9e6c",
    "_train_batches.json": "dafb9d15110cec9b8800d504d6dc182cdd378493824ae102d75314ce80bdbc44",
    "lenet5_seed42.json": "4ab9a0d8d1e38d80cb4039304500176a8c82269d13011738ae2d82d0ab9ea279",
    "lenet_seed42.json": "4f6ccac4de456408450e5e7a03f3ca8ef138795d52f7476b17fe12c1c4a7a185",
}
