;; hasynet's two heavy kernels in WebAssembly SIMD (f32x4): a convolution over channels-last (HWC) maps and a
;; linear layer. All pointers are byte offsets into the imported memory; tensors are float32.
;; Built into hasy_nb/assets/pad/hasynet_kernels.js (base64) by js/build_kernels.mjs.
(module
  (import "env" "memory" (memory 1))

  ;; y[OH, OW, Co] = b + conv(x[H, W, C], w[g, K, K, C/g, Co/g]) with stride s, zero padding p, dilation d, groups g
  (func (export "conv")
    (param $x i32) (param $H i32) (param $W i32) (param $C i32)
    (param $w i32) (param $b i32) (param $Co i32) (param $K i32)
    (param $s i32) (param $p i32) (param $d i32) (param $g i32)
    (param $y i32) (param $OH i32) (param $OW i32)
    (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32) (local $iy i32) (local $ix i32)
    (local $gi i32) (local $ci i32) (local $co i32) (local $cig i32) (local $cog i32)
    (local $ob i32) (local $ib i32) (local $wb i32) (local $yb i32) (local $wr i32)
    (local $a f32) (local $av v128) (local $q i32) (local $n4 i32)
    (local.set $cig (i32.div_u (local.get $C) (local.get $g)))
    (local.set $cog (i32.div_u (local.get $Co) (local.get $g)))
    (local.set $n4 (i32.and (local.get $cog) (i32.const -4)))
    (local.set $oy (i32.const 0))
    (block $oy_end (loop $oy_loop
      (br_if $oy_end (i32.ge_u (local.get $oy) (local.get $OH)))
      (local.set $ox (i32.const 0))
      (block $ox_end (loop $ox_loop
        (br_if $ox_end (i32.ge_u (local.get $ox) (local.get $OW)))
        ;; ob = y + (oy*OW + ox)*Co*4; start from the bias (or zero)
        (local.set $ob (i32.add (local.get $y)
          (i32.shl (i32.mul (i32.add (i32.mul (local.get $oy) (local.get $OW)) (local.get $ox)) (local.get $Co)) (i32.const 2))))
        (local.set $co (i32.const 0))
        (block $init_end (loop $init_loop
          (br_if $init_end (i32.ge_u (local.get $co) (local.get $Co)))
          (f32.store (i32.add (local.get $ob) (i32.shl (local.get $co) (i32.const 2)))
            (if (result f32) (local.get $b)
              (then (f32.load (i32.add (local.get $b) (i32.shl (local.get $co) (i32.const 2)))))
              (else (f32.const 0))))
          (local.set $co (i32.add (local.get $co) (i32.const 1)))
          (br $init_loop)))
        (local.set $ky (i32.const 0))
        (block $ky_end (loop $ky_loop
          (br_if $ky_end (i32.ge_u (local.get $ky) (local.get $K)))
          (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $s)) (local.get $p))
                                  (i32.mul (local.get $ky) (local.get $d))))
          (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $H))) (then
            (local.set $kx (i32.const 0))
            (block $kx_end (loop $kx_loop
              (br_if $kx_end (i32.ge_u (local.get $kx) (local.get $K)))
              (local.set $ix (i32.add (i32.sub (i32.mul (local.get $ox) (local.get $s)) (local.get $p))
                                      (i32.mul (local.get $kx) (local.get $d))))
              (if (i32.and (i32.ge_s (local.get $ix) (i32.const 0)) (i32.lt_s (local.get $ix) (local.get $W))) (then
                (local.set $ib (i32.add (local.get $x)
                  (i32.shl (i32.mul (i32.add (i32.mul (local.get $iy) (local.get $W)) (local.get $ix)) (local.get $C)) (i32.const 2))))
                (local.set $gi (i32.const 0))
                (block $g_end (loop $g_loop
                  (br_if $g_end (i32.ge_u (local.get $gi) (local.get $g)))
                  ;; wb = w + (((gi*K + ky)*K + kx)*cig*cog)*4 ; yb = ob + gi*cog*4
                  (local.set $wb (i32.add (local.get $w) (i32.shl (i32.mul (i32.mul
                    (i32.add (i32.mul (i32.add (i32.mul (local.get $gi) (local.get $K)) (local.get $ky)) (local.get $K)) (local.get $kx))
                    (local.get $cig)) (local.get $cog)) (i32.const 2))))
                  (local.set $yb (i32.add (local.get $ob) (i32.shl (i32.mul (local.get $gi) (local.get $cog)) (i32.const 2))))
                  (local.set $ci (i32.const 0))
                  (block $ci_end (loop $ci_loop
                    (br_if $ci_end (i32.ge_u (local.get $ci) (local.get $cig)))
                    (local.set $a (f32.load (i32.add (local.get $ib)
                      (i32.shl (i32.add (i32.mul (local.get $gi) (local.get $cig)) (local.get $ci)) (i32.const 2)))))
                    (if (f32.ne (local.get $a) (f32.const 0)) (then
                      (local.set $av (f32x4.splat (local.get $a)))
                      (local.set $wr (i32.add (local.get $wb) (i32.shl (i32.mul (local.get $ci) (local.get $cog)) (i32.const 2))))
                      (local.set $q (i32.const 0))
                      (block $v_end (loop $v_loop
                        (br_if $v_end (i32.ge_u (local.get $q) (local.get $n4)))
                        (v128.store (i32.add (local.get $yb) (i32.shl (local.get $q) (i32.const 2)))
                          (f32x4.add (v128.load (i32.add (local.get $yb) (i32.shl (local.get $q) (i32.const 2))))
                                     (f32x4.mul (local.get $av) (v128.load (i32.add (local.get $wr) (i32.shl (local.get $q) (i32.const 2)))))))
                        (local.set $q (i32.add (local.get $q) (i32.const 4)))
                        (br $v_loop)))
                      (block $s_end (loop $s_loop
                        (br_if $s_end (i32.ge_u (local.get $q) (local.get $cog)))
                        (f32.store (i32.add (local.get $yb) (i32.shl (local.get $q) (i32.const 2)))
                          (f32.add (f32.load (i32.add (local.get $yb) (i32.shl (local.get $q) (i32.const 2))))
                                   (f32.mul (local.get $a) (f32.load (i32.add (local.get $wr) (i32.shl (local.get $q) (i32.const 2)))))))
                        (local.set $q (i32.add (local.get $q) (i32.const 1)))
                        (br $s_loop)))))
                    (local.set $ci (i32.add (local.get $ci) (i32.const 1)))
                    (br $ci_loop)))
                  (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
                  (br $g_loop)))))
              (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
              (br $kx_loop)))))
          (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
          (br $ky_loop)))
        (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
        (br $ox_loop)))
      (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
      (br $oy_loop))))

  ;; y[out] = b + w[out, n] . x[n]
  (func (export "linear")
    (param $x i32) (param $n i32) (param $w i32) (param $b i32) (param $out i32) (param $y i32)
    (local $j i32) (local $i i32) (local $n4 i32) (local $acc v128) (local $s f32) (local $wr i32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $j (i32.const 0))
    (block $j_end (loop $j_loop
      (br_if $j_end (i32.ge_u (local.get $j) (local.get $out)))
      (local.set $wr (i32.add (local.get $w) (i32.shl (i32.mul (local.get $j) (local.get $n)) (i32.const 2))))
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $v_end (loop $v_loop
        (br_if $v_end (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $acc (f32x4.add (local.get $acc)
          (f32x4.mul (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
                     (v128.load (i32.add (local.get $wr) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $v_loop)))
      (local.set $s (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                             (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
      (block $s_end (loop $s_loop
        (br_if $s_end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
                                                       (f32.load (i32.add (local.get $wr) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $s_loop)))
      (if (local.get $b) (then (local.set $s (f32.add (local.get $s)
          (f32.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $j_loop))))
)
