<?php

namespace App;

/**
 * Class Handler
 * @package App
 */
class Handler
{
    /**
     * @param $data
     * @return string
     */
    public function handle($data) {
        return $data;
    }
}
