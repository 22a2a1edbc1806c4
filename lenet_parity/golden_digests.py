"""The content_sha256 seals of the golden files this lenet-parity ships. Written by `make weights` and
`make phase0` (lenet_parity/golden_pins.py, ``record_shipped``): a golden file at its shipped place whose seal
is not listed here is refused, so an edit re-sealed by someone else is never believed."""

SHIPPED = {
    "_reference.json": "24dc124c5689051501b28bd02f4938b2449fbaa2d2012bf4fb04f3884d60a531",
    "_train_batches.json": "dafb9d15110cec9b8800d504d6dc182cdd378493824ae102d75314ce80bdbc44",
    "lenet5_seed42.json": "4ab9a0d8d1e38d80cb4039304500176a8c82269d13011738ae2d82d0ab9ea279",
    "lenet_seed42.json": "0ab189652abef7588b0976b2b1896f65de592f5d35944f40311e6459b0134ac2",
}
