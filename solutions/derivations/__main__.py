"""``python -m solutions.derivations``: run every proof and list the key values."""
from . import key_values, verify_all

if __name__ == "__main__":
    verify_all()
    for name, value in sorted(key_values().items()):
        print(f"{name:32s} {value}")
    print("all derivations verified")
