{
  description = "o4g-gitops: the Open4Goods Kubernetes platform as typed Rust, rendered for Flux";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs { inherit system; };
      in
      {
        # `nix develop`: everything `cargo run -- render` and `cargo test` use, plus the
        # cluster-side tools to inspect what Flux will apply.
        devShells.default = pkgs.mkShell {
          packages = with pkgs; [
            # Rust toolchain
            cargo
            rustc
            clippy
            rustfmt
            cargo-insta
            # Kubernetes and Flux
            kubectl
            kustomize
            fluxcd
            kubeconform
            # Secrets
            sops
            age
            # Checks used by the tests and CI
            trivy
            prometheus # promtool
            mariadb
            minio
            nix
          ];
          RUST_BACKTRACE = "1";
        };

        formatter = pkgs.nixpkgs-fmt;
      });
}
